import csv
import json

import pytest
from sqlalchemy import func, select

from jiesu.errors import DataSourceError, InvalidInput, PermissionDenied, PlaceNotFound
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Role
from jiesu.places import service
from jiesu.places.models import Area, AreaAlias, AreaLevel

# From ../shared/data/places/SOURCES.md
PER_DISTRICT = {"东城区": (17, 169), "西城区": (15, 263), "朝阳区": (43, 768), "丰台区": (26, 440),
                "石景山区": (9, 153), "海淀区": (29, 678), "门头沟区": (13, 304), "房山区": (28, 669),
                "通州区": (22, 656), "顺义区": (25, 601), "昌平区": (22, 572), "大兴区": (26, 758),
                "怀柔区": (17, 321), "平谷区": (18, 323), "密云区": (21, 429), "延庆区": (18, 431)}


def test_counts_match_the_gazetteer(session):
    c = service.counts(session, ANONYMOUS)
    assert (c["city"], c["district"], c["street"], c["community"]) == (1, 16, 349, 7535)


def test_counts_per_district(session):
    districts = {a.code: a.name for a in session.scalars(select(Area).where(Area.level == AreaLevel.district))}
    rows = session.execute(select(Area.district_code, Area.level, func.count())
                           .where(Area.level.in_([AreaLevel.street, AreaLevel.community]))
                           .group_by(Area.district_code, Area.level)).all()
    got: dict[str, list[int]] = {}
    for code, level, n in rows:
        got.setdefault(districts[code], [0, 0])[0 if level == AreaLevel.street else 1] = n
    assert {k: tuple(v) for k, v in got.items()} == PER_DISTRICT


def test_find_guanyinsi_lists_the_daxing_street_with_its_code(session):
    found = service.find(session, ANONYMOUS, "观音寺")
    first = found.matches[0]
    assert (first.area.code, first.area.path, first.exact) == ("110115009000", "北京市/大兴区/观音寺街道", True)
    assert found.total >= 2  # the street and its communities named after it


def test_find_balizhuang_shows_both_streets(session):
    matches = service.find(session, ANONYMOUS, "八里庄", level=AreaLevel.street).matches
    assert [(m.area.code, m.area.path) for m in matches] == [
        ("110105015000", "北京市/朝阳区/八里庄街道"), ("110108005000", "北京市/海淀区/八里庄街道")]


def test_alias_guangwai_nanli(session):
    found = service.find(session, ANONYMOUS, "广外南里")
    matches = found.matches
    assert found.total == 1 and not found.ambiguous
    assert matches[0].area.code == "110101013006"
    assert matches[0].exact and matches[0].matched == "广外南里"


def test_formal_name_finds_the_diqu(session):
    matches = service.find(session, ANONYMOUS, "南磨房乡").matches
    assert matches[0].area.name == "南磨房地区"
    assert matches[0].area.formal_name == "南磨房乡"


def test_duplicate_community_names_are_all_returned(session):
    found = service.find(session, ANONYMOUS, "辛庄村委会", level=AreaLevel.community, limit=100)
    matches = found.matches
    assert found.ambiguous and found.exact == 11
    exact = [m for m in matches if m.area.name == "辛庄村委会"]
    assert len(exact) == 11  # SOURCES.md: 辛庄村委会 x11
    assert len({m.area.street_code for m in exact}) == 11


def test_ambiguity_counts_every_match_not_the_page(session):
    found = service.find(session, ANONYMOUS, "八里庄街道", limit=1)
    assert len(found.matches) == 1 and found.exact == 2 and found.ambiguous


def test_like_wildcards_are_literal(session):
    assert service.find(session, ANONYMOUS, "%").total == 0
    assert service.find(session, ANONYMOUS, "_").total == 0


def test_empty_query_names_the_field(session):
    with pytest.raises(InvalidInput) as e:
        service.find(session, ANONYMOUS, "  ")
    assert e.value.field == "q"


def test_children_and_unknown_code(session):
    kids = service.children(session, ANONYMOUS, "110115009000")
    assert len(kids) == 24 and all(k.level == AreaLevel.community for k in kids)
    with pytest.raises(PlaceNotFound):
        service.get(session, ANONYMOUS, "999")


def test_reimport_changes_nothing(session):
    before = session.scalar(select(func.count()).select_from(AreaAlias))
    report = service.import_gazetteer(session, SYSTEM)
    assert (report.inserted, report.updated) == (0, 7901)
    assert session.scalar(select(func.count()).select_from(Area)) == 7901
    assert session.scalar(select(func.count()).select_from(AreaAlias)) == before


def test_manual_alias_survives_reimport(session):
    service.add_alias(session, SYSTEM, "110115009000", "观音寺街")
    service.import_gazetteer(session, SYSTEM)
    matches = service.find(session, ANONYMOUS, "观音寺街").matches
    assert any(m.area.code == "110115009000" and m.matched == "观音寺街" for m in matches)


def test_only_admin_edits_places(session):
    with pytest.raises(PermissionDenied):
        service.add_alias(session, Actor("op", Role.operator), "110115009000", "xx")
    with pytest.raises(PermissionDenied):
        service.import_gazetteer(session, ANONYMOUS)


def test_locate_by_district_polygon(session):
    # DataV's seat of government of each district lies inside that district.
    for code, lng, lat in [("110115000000", 116.338033, 39.728908), ("110101000000", 116.418757, 39.917544)]:
        assert service.locate(session, ANONYMOUS, lng, lat).code == code
    assert service.locate(session, ANONYMOUS, 121.47, 31.23) is None  # Shanghai
    with pytest.raises(InvalidInput):
        service.locate(session, ANONYMOUS, 200, 0)


def test_residential_complex(session):
    area = service.add_complex(session, SYSTEM, "110115009006", "首座御园")
    assert area.level == AreaLevel.complex and area.path.endswith("观音寺社区/首座御园")
    assert service.add_complex(session, SYSTEM, "110115009006", "首座御园").id == area.id
    with pytest.raises(InvalidInput):
        service.add_complex(session, SYSTEM, "110115009000", "x小区")  # a street, not a community


def _write(path, name, header, rows):
    with open(path / name, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_another_city_imports_from_csv(session, tmp_path):
    _write(tmp_path, "districts.csv", ["code", "adcode", "name", "short_name"],
           [["120101000000", "120101", "和平区", "和平"]])
    _write(tmp_path, "streets.csv", ["code", "code9", "name", "district_code", "district_name", "kind", "mca_name"],
           [["120101001000", "120101001", "劝业场街道", "120101000000", "和平区", "街道", ""]])
    _write(tmp_path, "communities.csv", ["code", "name", "short_name", "kind", "street_code", "street_name",
                                         "district_code", "district_name"],
           [["120101001001", "花园社区居委会", "花园社区", "社区", "120101001000", "劝业场街道",
             "120101000000", "和平区"]])
    with pytest.raises(InvalidInput) as e:
        service.import_gazetteer(session, SYSTEM, tmp_path)
    assert e.value.field == "city_name"
    report = service.import_gazetteer(session, SYSTEM, tmp_path, city_name="天津市")
    assert (report.districts, report.streets, report.communities, report.boundaries) == (1, 1, 1, 0)
    m = service.find(session, ANONYMOUS, "花园社区", district_code="120101000000").matches
    assert m[0].area.path == "天津市/和平区/劝业场街道/花园社区"


def test_bad_sources_are_named(session, tmp_path):
    with pytest.raises(DataSourceError):
        service.import_gazetteer(session, SYSTEM, tmp_path / "nope")
    _write(tmp_path, "districts.csv", ["code", "name"], [["110101000000", "东城区"]])
    with pytest.raises(DataSourceError) as e:
        service.import_gazetteer(session, SYSTEM, tmp_path)
    assert "short_name" in e.value.message
    _write(tmp_path, "districts.csv", ["code", "name", "short_name"], [["110101000000", "东城区", "东城"]])
    _write(tmp_path, "streets.csv", ["code", "name", "district_code", "kind"], [["1", "x街道", "999", "街道"]])
    _write(tmp_path, "communities.csv", ["code", "name", "short_name", "kind", "street_code"], [])
    with pytest.raises(DataSourceError) as e:
        service.import_gazetteer(session, SYSTEM, tmp_path)
    assert "unknown district" in e.value.message


def test_shared_gazetteer_matches_the_shipped_copy(session, shared_data):
    """The package ships a compressed copy; it must be the same data as ../shared."""
    report = service.import_gazetteer(session, SYSTEM, shared_data / "places")
    assert (report.inserted, report.updated, report.boundaries) == (0, 7901, 16)
    with open(shared_data / "places" / "districts.geojson", encoding="utf-8") as fh:
        assert len(json.load(fh)["features"]) == 16


def test_a_gbk_file_is_named_not_a_traceback(session, tmp_path):
    (tmp_path / "districts.csv").write_bytes("code,name,short_name\n110101000000,东城区,东城\n".encode("gbk"))
    with pytest.raises(DataSourceError) as e:
        service.import_gazetteer(session, SYSTEM, tmp_path)
    assert "districts.csv: not UTF-8" in e.value.message


@pytest.mark.parametrize("query", ["海淀区八里庄", "海淀 八里庄", "海淀八里庄街道"])
def test_a_leading_district_name_narrows_the_search(session, query):
    found = service.find(session, ANONYMOUS, query, level=AreaLevel.street)
    assert [m.area.code for m in found.matches] == ["110108005000"]
    assert not found.ambiguous


def test_a_name_that_starts_like_a_district_is_not_split(session):
    found = service.find(session, ANONYMOUS, "朝阳门", level=AreaLevel.street)
    assert {m.area.district_code for m in found.matches} == {"110101000000"}  # 朝阳门街道 is in 东城区


def test_half_width_brackets_and_full_width_letters(session):
    found = service.find(session, ANONYMOUS, "中国矿业大学(北京)")
    assert found.total >= 1 and all("中国矿业大学（北京）" in m.area.name for m in found.matches)
    assert service.find(session, ANONYMOUS, "　观音寺　").matches[0].area.code == "110115009000"  # ideographic spaces


def test_unknown_district_filter_names_the_field(session):
    with pytest.raises(InvalidInput) as e:
        service.find(session, ANONYMOUS, "八里庄", district_code="garbage")
    assert e.value.field == "district_code"
