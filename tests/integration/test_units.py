"""Units: what `bootstrap` made of Beijing, creating, editing, listing, and who may do it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from jiesu.errors import Conflict, InvalidInput, PermissionDenied, UnitNotFound
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Role
from jiesu.places.models import Area, AreaLevel
from jiesu.units import catalogue, service
from jiesu.units.models import Unit, UnitKind

EXPECTED_COUNTS = {"centre": 1, "district_government": 16, "street": 349, "community": 7535, "department": 18,
                   "department_branch": 288, "utility": 7, "property_company": 0}
OPERATOR = Actor("op1", Role.operator, user_id=9001)
CITIZEN = Actor("citizen1", Role.citizen, user_id=9002)
CITY = "110100000000"
DAXING = "110115000000"
GUANYINSI = "110115009000"  # 观音寺街道, 大兴区
GUANYINSI_COMMUNITY = "110115009006"  # 观音寺社区


# -- bootstrap ---------------------------------------------------------------------------------------------------

def test_bootstrap_made_every_unit_once(session):
    assert service.counts(session, SYSTEM) == EXPECTED_COUNTS
    assert EXPECTED_COUNTS["department_branch"] == 18 * 16


def test_bootstrap_again_creates_nothing_and_keeps_edits(session):
    service.update(session, SYSTEM, GUANYINSI, name="观音寺街道办事处（改）", phone="010-1234")
    report = service.bootstrap(session, SYSTEM)
    assert report.total_created == 0
    assert set(report.created.values()) == {0}
    assert report.existing == sum(EXPECTED_COUNTS.values())
    assert service.counts(session, SYSTEM) == EXPECTED_COUNTS
    unit = service.get(session, SYSTEM, GUANYINSI)
    assert (unit.name, unit.phone) == ("观音寺街道办事处（改）", "010-1234")


def test_bootstrap_needs_an_administrator(session):
    with pytest.raises(PermissionDenied):
        service.bootstrap(session, OPERATOR)


def test_centre_departments_and_utilities(session):
    centre = service.get(session, SYSTEM, catalogue.CENTRE_CODE)
    assert (centre.name, centre.kind, centre.parent, centre.area.level) == (
        "市民热线服务中心", UnitKind.centre, None, AreaLevel.city)
    cgzf = service.get(session, SYSTEM, "cgzf")
    assert (cgzf.kind, cgzf.department_key, cgzf.area.level) == (UnitKind.department, "cgzf", AreaLevel.city)
    water = service.get(session, SYSTEM, "water")
    assert (water.kind, water.name) == (UnitKind.utility, "北京市自来水集团有限责任公司")


def test_street_unit_is_coded_by_its_area_and_sits_below_its_district_government(session):
    unit = service.get(session, SYSTEM, GUANYINSI)
    assert (unit.name, unit.kind) == ("观音寺街道办事处", UnitKind.street)
    assert unit.area.code == unit.code
    assert unit.area.level == AreaLevel.street
    assert unit.parent.code == DAXING
    assert (unit.parent.kind, unit.parent.name) == (UnitKind.district_government, "大兴区人民政府")


def test_every_street_and_community_matches_its_area_and_parent(session):
    parent = aliased(Unit)
    rows = session.execute(
        select(Unit.kind, Unit.code, Area.code, Area.level, Area.district_code, Area.street_code, parent.code)
        .join(Area, Unit.area_id == Area.id).outerjoin(parent, Unit.parent_id == parent.id)
        .where(Unit.kind.in_([UnitKind.street, UnitKind.community]))).all()
    assert len(rows) == 349 + 7535
    bad = [r for r in rows
           if r[1] != r[2]
           or r[3] != (AreaLevel.street if r[0] == UnitKind.street else AreaLevel.community)
           or r[6] != (r[4] if r[0] == UnitKind.street else r[5])]
    assert bad == []


def test_township_office_is_a_peoples_government(session):
    unit = service.get(session, SYSTEM, "110114116000")
    assert unit.name == "兴寿镇人民政府"
    assert unit.parent.code == "110114000000"


def test_community_sits_below_its_street(session):
    unit = service.get(session, SYSTEM, "110101013006")
    assert unit.kind == UnitKind.community
    assert unit.parent.code == "110101013000"
    assert unit.parent.kind == UnitKind.street


def test_each_district_has_a_branch_of_every_department(session):
    branches, total = service.list_units(session, SYSTEM, kind=UnitKind.department_branch, district_code=DAXING)
    assert total == 18
    assert {b.department_key for b in branches} == {d.key for d in catalogue.DEPARTMENTS}
    assert all(b.code == f"{b.department_key}-110115" for b in branches)
    assert all(b.parent.code == b.department_key and b.parent.kind == UnitKind.department for b in branches)
    assert all(b.area.code == DAXING for b in branches)
    names = {b.code: b.name for b in branches}
    assert names["cgzf-110115"] == "大兴区城市管理综合行政执法局"
    assert names["ga-110115"] == "北京市公安局大兴区分局"


def test_every_district_has_18_branches(session):
    rows = session.execute(select(Area.code, func.count()).select_from(Unit).join(Area, Unit.area_id == Area.id)
                           .where(Unit.kind == UnitKind.department_branch).group_by(Area.code)).all()
    assert len(rows) == 16
    assert {n for _, n in rows} == {18}


# -- create ------------------------------------------------------------------------------------------------------

def test_create_a_unit(session):
    unit = service.create(session, SYSTEM, code=" water-110115 ", name=" 大兴供水分公司 ", kind=UnitKind.utility,
                          parent_code="water", area_code=DAXING, department_key="water", phone="96116")
    assert (unit.code, unit.name, unit.kind, unit.active) == ("water-110115", "大兴供水分公司", UnitKind.utility, True)
    assert (unit.parent.code, unit.area.code, unit.phone) == ("water", DAXING, "96116")
    assert service.get(session, SYSTEM, "water-110115").id == unit.id
    assert service.counts(session, SYSTEM)["utility"] == 8


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"code": ""}, InvalidInput, "code"),
    ({"code": "   "}, InvalidInput, "code"),
    ({"name": " "}, InvalidInput, "name"),
    ({"code": GUANYINSI}, Conflict, "code"),
    ({"code": "cgzf"}, Conflict, "code"),
    ({"parent_code": "no-such-unit"}, InvalidInput, "parent_code"),
    ({"area_code": "999999999999"}, InvalidInput, "area_code"),
    ({"area_code": GUANYINSI}, InvalidInput, "area_code"),  # a street for a branch, which answers for a district
    ({"area_code": CITY}, InvalidInput, "area_code"),  # the city
    ({"kind": UnitKind.street, "area_code": DAXING}, InvalidInput, "area_code"),
    ({"kind": UnitKind.community, "area_code": GUANYINSI}, InvalidInput, "area_code"),
    ({"kind": UnitKind.property_company, "area_code": None}, InvalidInput, "area_code"),
    ({"kind": UnitKind.property_company, "area_code": GUANYINSI}, InvalidInput, "area_code"),
    ({"kind": UnitKind.street, "area_code": None, "parent_code": None}, InvalidInput, "area_code"),
    ({"kind": UnitKind.street, "area_code": GUANYINSI, "parent_code": DAXING}, Conflict, "area_code"),
    ({"kind": UnitKind.community, "area_code": GUANYINSI_COMMUNITY, "parent_code": GUANYINSI}, Conflict,
     "area_code"),
    ({"department_key": None}, InvalidInput, "department_key"),
    ({"kind": UnitKind.department, "area_code": CITY, "parent_code": None}, Conflict, "department_key"),
], ids=["empty-code", "blank-code", "blank-name", "duplicate-street", "duplicate-department", "unknown-parent",
        "unknown-area", "street-area-for-branch", "city-area-for-branch", "district-area-for-street",
        "street-area-for-community", "property-company-without-area", "property-company-on-a-street",
        "street-without-area", "second-street-office", "second-community-committee", "branch-without-key",
        "second-department-with-a-key"])
def test_create_rejects_bad_input_naming_the_field(session, kwargs, error, field):
    args = {"code": "new-unit", "name": "新单位", "kind": UnitKind.department_branch, "parent_code": "cgzf",
            "area_code": DAXING, "department_key": "cgzf"} | kwargs
    before = service.counts(session, SYSTEM)
    with pytest.raises(error) as exc:
        service.create(session, SYSTEM, **args)
    assert exc.value.field == field
    assert service.counts(session, SYSTEM) == before


def test_the_codes_the_create_cases_lean_on_are_what_they_claim(session):
    # Otherwise "city-area-for-branch" would pass as an unknown area, for the wrong reason.
    levels = dict(session.execute(select(Area.code, Area.level).where(
        Area.code.in_([CITY, DAXING, GUANYINSI, GUANYINSI_COMMUNITY]))).all())
    assert levels == {CITY: AreaLevel.city, DAXING: AreaLevel.district, GUANYINSI: AreaLevel.street,
                      GUANYINSI_COMMUNITY: AreaLevel.community}


# -- update ------------------------------------------------------------------------------------------------------

def test_update_fields(session, clock):
    from datetime import date

    from jiesu.calendar import service as calendar
    from jiesu.calendar.models import DayKind

    calendar.set_day(session, SYSTEM, clock, date(2024, 5, 6), DayKind.holiday, "区级调休", "daxing")
    unit = service.update(session, SYSTEM, GUANYINSI, name=" 观音寺街道 ", phone="010-69200000", calendar="daxing")
    assert (unit.name, unit.phone, unit.calendar) == ("观音寺街道", "010-69200000", "daxing")
    unit = service.update(session, SYSTEM, GUANYINSI, phone="", calendar="")
    assert (unit.phone, unit.calendar) == (None, "default")
    with pytest.raises(InvalidInput) as exc:
        service.update(session, SYSTEM, GUANYINSI, name="  ")
    assert exc.value.field == "name"


def test_update_moves_a_unit(session):
    unit = service.update(session, SYSTEM, GUANYINSI, parent_code="110114000000")
    assert unit.parent.code == "110114000000"
    with pytest.raises(InvalidInput) as exc:
        service.update(session, SYSTEM, GUANYINSI, parent_code="nowhere")
    assert exc.value.field == "parent_code"
    with pytest.raises(InvalidInput) as exc:
        service.update(session, SYSTEM, GUANYINSI, area_code=DAXING)
    assert exc.value.field == "area_code"


def test_update_an_unknown_unit(session):
    with pytest.raises(UnitNotFound) as exc:
        service.update(session, SYSTEM, "nope", name="x")
    assert exc.value.field == "code"


@pytest.mark.parametrize(("code", "new_parent"), [
    (DAXING, GUANYINSI),  # a district government below one of its streets
    (DAXING, GUANYINSI_COMMUNITY),  # ... or two levels down
    (GUANYINSI, GUANYINSI_COMMUNITY),  # a street below one of its communities
    (GUANYINSI, GUANYINSI),  # a unit below itself
    ("cgzf", "cgzf-110115"),  # a department below its branch
])
def test_update_rejects_a_parent_loop(session, code, new_parent):
    old_parent = service.get(session, SYSTEM, code).parent
    with pytest.raises(InvalidInput) as exc:
        service.update(session, SYSTEM, code, parent_code=new_parent)
    assert exc.value.field == "parent_code"
    assert service.get(session, SYSTEM, code).parent is old_parent


def test_deactivated_unit_drops_out_of_the_active_list(session):
    _, active_before = service.list_units(session, SYSTEM, kind=UnitKind.street, active=True)
    assert active_before == 349
    unit = service.update(session, SYSTEM, GUANYINSI, active=False)
    assert unit.active is False
    items, total = service.list_units(session, SYSTEM, kind=UnitKind.street, active=True, limit=1000)
    assert total == 348
    assert GUANYINSI not in {u.code for u in items}
    items, total = service.list_units(session, SYSTEM, active=False)
    assert [u.code for u in items] == [GUANYINSI] and total == 1
    _, everything = service.list_units(session, SYSTEM, kind=UnitKind.street)
    assert everything == 349  # still there, just inactive
    assert service.update(session, SYSTEM, GUANYINSI, active=True).active is True


# -- property companies ------------------------------------------------------------------------------------------

def test_register_property_company(session):
    unit = service.register_property_company(session, SYSTEM, name="北京首座物业管理有限公司",
                                             community_code=GUANYINSI_COMMUNITY, complex_name="首座御园",
                                             phone="010-60200000")
    assert unit.kind == UnitKind.property_company
    assert unit.name == "北京首座物业管理有限公司"
    assert unit.phone == "010-60200000"
    complex_area = unit.area
    assert (complex_area.name, complex_area.level) == ("首座御园", AreaLevel.complex)
    assert complex_area.parent.code == GUANYINSI_COMMUNITY
    assert (complex_area.district_code, complex_area.street_code) == (DAXING, GUANYINSI)
    assert unit.code == f"prop-{complex_area.code}"
    assert unit.parent.code == GUANYINSI_COMMUNITY
    assert unit.parent.kind == UnitKind.community
    assert service.counts(session, SYSTEM)["property_company"] == 1
    items, total = service.list_units(session, SYSTEM, parent_code=GUANYINSI_COMMUNITY)
    assert (total, [u.code for u in items]) == (1, [unit.code])


def test_register_property_company_twice_for_one_complex_conflicts(session):
    first = service.register_property_company(session, SYSTEM, name="甲物业", community_code=GUANYINSI_COMMUNITY,
                                              complex_name="首座御园")
    with pytest.raises(Conflict) as exc:
        service.register_property_company(session, SYSTEM, name="乙物业", community_code=GUANYINSI_COMMUNITY,
                                          complex_name="首座御园")
    assert exc.value.field == "code"
    # The complex was not registered twice; a second company needs its own code.
    other = service.register_property_company(session, SYSTEM, name="乙物业", community_code=GUANYINSI_COMMUNITY,
                                              complex_name="首座御园", code="prop-yi")
    assert other.area.id == first.area.id


def test_register_property_company_needs_a_community(session):
    with pytest.raises(InvalidInput) as exc:
        service.register_property_company(session, SYSTEM, name="甲物业", community_code=GUANYINSI,
                                          complex_name="首座御园")
    assert exc.value.field == "community_code"
    with pytest.raises(InvalidInput) as exc:
        service.register_property_company(session, SYSTEM, name="甲物业", community_code=GUANYINSI_COMMUNITY,
                                          complex_name="  ")
    assert exc.value.field == "name"


def test_create_property_company_on_a_community(session):
    unit = service.create(session, SYSTEM, code="prop-x", name="某物业", kind=UnitKind.property_company,
                          area_code=GUANYINSI_COMMUNITY, parent_code=GUANYINSI_COMMUNITY)
    assert unit.area.level == AreaLevel.community


# -- listing -----------------------------------------------------------------------------------------------------

def test_list_by_kind(session):
    items, total = service.list_units(session, SYSTEM, kind=UnitKind.district_government, limit=100)
    assert total == 16
    assert len(items) == 16
    assert all(u.kind == UnitKind.district_government for u in items)
    assert [u.code for u in items] == sorted(u.code for u in items)


def test_list_default_page_and_total(session):
    items, total = service.list_units(session, SYSTEM)
    assert total == sum(EXPECTED_COUNTS.values())
    assert len(items) == 50


def test_list_by_name_or_code(session):
    items, total = service.list_units(session, SYSTEM, q="观音寺", limit=1000)
    assert total == len(items) >= 2
    assert all("观音寺" in u.name for u in items)
    assert GUANYINSI in {u.code for u in items}
    items, total = service.list_units(session, SYSTEM, q="110101013006")
    assert (total, [u.code for u in items]) == (1, ["110101013006"])
    _, total = service.list_units(session, SYSTEM, q="%")  # a LIKE wildcard is a plain character
    assert total == 0
    _, total = service.list_units(session, SYSTEM, q="没有这个单位")
    assert total == 0


def test_list_by_parent(session):
    n_communities = session.scalar(select(func.count()).select_from(Area).where(
        Area.street_code == GUANYINSI, Area.level == AreaLevel.community))
    items, total = service.list_units(session, SYSTEM, parent_code=GUANYINSI, limit=1000)
    assert total == n_communities > 0
    assert {u.parent.code for u in items} == {GUANYINSI}
    assert {u.kind for u in items} == {UnitKind.community}
    _, total = service.list_units(session, SYSTEM, parent_code=DAXING, kind=UnitKind.street)
    assert total == session.scalar(select(func.count()).select_from(Area).where(
        Area.district_code == DAXING, Area.level == AreaLevel.street))
    items, total = service.list_units(session, SYSTEM, parent_code="cgzf")
    assert total == 16 and {u.kind for u in items} == {UnitKind.department_branch}


def test_list_by_unknown_parent_names_the_filter(session):
    with pytest.raises(InvalidInput) as exc:
        service.list_units(session, SYSTEM, parent_code="no-such-unit")
    assert exc.value.field == "parent_code"


def test_list_by_district(session):
    _, total = service.list_units(session, SYSTEM, kind=UnitKind.street, district_code=DAXING)
    assert total == session.scalar(select(func.count()).select_from(Area).where(
        Area.district_code == DAXING, Area.level == AreaLevel.street))
    _, total = service.list_units(session, SYSTEM, kind=UnitKind.district_government, district_code=DAXING)
    assert total == 1


def test_list_pages(session):
    first, total = service.list_units(session, SYSTEM, kind=UnitKind.street, limit=10)
    second, total2 = service.list_units(session, SYSTEM, kind=UnitKind.street, limit=10, offset=10)
    assert total == total2 == 349
    assert len(first) == len(second) == 10
    assert not {u.code for u in first} & {u.code for u in second}
    everything, _ = service.list_units(session, SYSTEM, kind=UnitKind.street, limit=1000)
    assert [u.code for u in everything[:20]] == [u.code for u in first + second]
    last, _ = service.list_units(session, SYSTEM, kind=UnitKind.street, limit=1000, offset=340)
    assert len(last) == 9
    beyond, total = service.list_units(session, SYSTEM, kind=UnitKind.street, offset=5000)
    assert (beyond, total) == ([], 349)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"limit": 0}, "limit"), ({"limit": -1}, "limit"), ({"limit": 1001}, "limit"), ({"offset": -1}, "offset"),
])
def test_list_bounds(session, kwargs, field):
    with pytest.raises(InvalidInput) as exc:
        service.list_units(session, SYSTEM, **kwargs)
    assert exc.value.field == field


def test_list_limit_edges_are_allowed(session):
    assert len(service.list_units(session, SYSTEM, limit=1)[0]) == 1
    assert len(service.list_units(session, SYSTEM, limit=1000)[0]) == 1000


# -- who may ---------------------------------------------------------------------------------------------------

def test_operator_may_read_units(session):
    assert service.get(session, OPERATOR, GUANYINSI).code == GUANYINSI
    assert service.list_units(session, OPERATOR, kind=UnitKind.centre)[1] == 1
    assert service.counts(session, OPERATOR) == EXPECTED_COUNTS


@pytest.mark.parametrize("call", [
    lambda s, a: service.create(s, a, code="x-1", name="新单位", kind=UnitKind.department, area_code=CITY),
    lambda s, a: service.update(s, a, GUANYINSI, name="改名"),
    lambda s, a: service.update(s, a, GUANYINSI, active=False),
    lambda s, a: service.register_property_company(s, a, name="甲物业", community_code=GUANYINSI_COMMUNITY,
                                                   complex_name="首座御园"),
], ids=["create", "rename", "deactivate", "property-company"])
def test_operator_may_not_edit_units(session, call):
    with pytest.raises(PermissionDenied):
        call(session, OPERATOR)
    unit = service.get(session, SYSTEM, GUANYINSI)
    assert (unit.name, unit.active) == ("观音寺街道办事处", True)
    assert service.counts(session, SYSTEM) == EXPECTED_COUNTS
    assert session.scalar(select(func.count()).select_from(Area).where(Area.level == AreaLevel.complex)) == 0


@pytest.mark.parametrize("actor", [CITIZEN, ANONYMOUS], ids=["citizen", "anonymous"])
def test_citizens_and_visitors_may_not_read_units(session, actor):
    with pytest.raises(PermissionDenied):
        service.get(session, actor, GUANYINSI)
    with pytest.raises(PermissionDenied):
        service.list_units(session, actor)
    with pytest.raises(PermissionDenied):
        service.counts(session, actor)


def test_property_company_needs_a_community_committee(session):
    before = session.scalar(select(func.count()).select_from(Area))
    with pytest.raises(InvalidInput) as e:
        service.register_property_company(session, SYSTEM, name="某物业", community_code="110115009000",
                                          complex_name="某小区")  # a street's code
    assert e.value.field == "community_code"
    assert session.scalar(select(func.count()).select_from(Area)) == before  # nothing half-written
