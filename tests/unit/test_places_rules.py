from hypothesis import given
from hypothesis import strategies as st

from jiesu.places.rules import abbreviate, aliases_for, bbox, contains, strip_suffix


def test_community_aliases_include_the_gate_abbreviation():
    assert aliases_for("community", "广渠门外南里社区居委会", "广渠门外南里社区") == [
        "广渠门外南里社区", "广渠门外南里", "广外南里社区", "广外南里"]


def test_street_aliases_include_the_formal_name():
    assert aliases_for("street", "南磨房地区", "", "南磨房乡") == ["南磨房", "南磨房乡"]
    assert aliases_for("street", "观音寺街道", "") == ["观音寺"]


def test_village_and_district():
    assert aliases_for("community", "辛庄村委会", "辛庄村") == ["辛庄村", "辛庄"]
    assert aliases_for("district", "大兴区", "大兴") == ["大兴"]


def test_aliases_never_shorter_than_two_characters():
    # 一村 would strip to 一: too short to be a name anyone searches by
    assert aliases_for("community", "一村委会", "一村") == ["一村"]
    assert strip_suffix("镇", ("镇",)) == "镇"


def test_both_guang_gates_abbreviate_to_guangwai():
    assert abbreviate("广安门外") == abbreviate("广渠门外") == "广外"
    assert abbreviate("德胜门内大街") == "德内大街"


SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                                             [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]]}


def test_polygon_with_a_hole():
    assert contains(SQUARE, 1, 1)
    assert not contains(SQUARE, 5, 5)  # in the hole
    assert not contains(SQUARE, 11, 5)
    assert bbox(SQUARE) == (0, 0, 10, 10)


def test_multipolygon():
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"], [[[20, 20], [30, 20], [30, 30], [20, 20]]]]}
    assert contains(multi, 29, 21) and contains(multi, 1, 1) and not contains(multi, 15, 15)


@given(st.floats(-50, 50), st.floats(-50, 50))
def test_outside_the_bounding_box_is_outside(x, y):
    x0, y0, x1, y1 = bbox(SQUARE)
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        assert not contains(SQUARE, x, y)


def test_committee_words_leave_the_short_name():
    from jiesu.places.rules import community_short

    assert community_short("八里庄北里东社区居民委员会") == "八里庄北里东社区"
    assert community_short("四道口居民委员会") == "四道口社区"
    assert community_short("牌坊村村民委员会") == "牌坊村"
    assert community_short("小红门村民委员会") == "小红门村"
    assert community_short("多福巷社区") == "多福巷社区"
    assert community_short("居委会") == "居委会"  # nothing left to call it
