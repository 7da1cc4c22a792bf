"""The hot-spot pages' pictures: points land inside their districts' drawing, sizes grow with tickets, bars and
lines scale to their largest value, and the project's start is marked."""

from __future__ import annotations

from jiesu.web import hotspot_charts as charts

SQUARE = {"type": "Polygon", "coordinates": [[[116.0, 39.0], [117.0, 39.0], [117.0, 40.0], [116.0, 40.0],
                                              [116.0, 39.0]]]}
EAST = {"type": "Polygon", "coordinates": [[[117.0, 39.0], [118.0, 39.0], [118.0, 40.0], [117.0, 40.0],
                                            [117.0, 39.0]]]}


def test_a_point_lands_where_its_district_is_drawn():
    f = charts.frame({"A": SQUARE, "B": EAST}, {"A": "西区", "B": "东区"})
    assert f.paths["A"].startswith("M0.0,") and f.height > 0
    x, y = f.project(116.5, 39.5)
    assert 0 < x < 500 < f.project(117.5, 39.5)[0] <= 1000  # west half, then east half
    assert 0 < y < f.height
    assert f.project(116.0, 40.0) == (0.0, 0.0)  # the north-west corner is the drawing's origin


def test_placing_prefers_the_tickets_then_the_place_then_the_district():
    f = charts.frame({"A": SQUARE, "B": EAST}, {"A": "西区", "B": "东区"})
    assert charts.place_point(f, (116.2, 39.2), (116.8, 39.8), "A") == (*f.project(116.2, 39.2), True)
    assert charts.place_point(f, (None, None), (116.8, 39.8), "A") == (*f.project(116.8, 39.8), False)
    # a coordinate far outside the city is a wrong one, not a place: the district's centroid instead
    at = charts.place_point(f, (0.0, 0.0), None, "B")
    assert at is not None and at[2] is False and at[0] > 500
    assert charts.place_point(f, None, None, "nowhere") is None


def test_radius_grows_with_the_tickets():
    assert charts.radius(100, 100) == 30.0
    assert charts.radius(0, 100) == 9.0
    assert charts.radius(25, 100) < charts.radius(50, 100) < charts.radius(100, 100)
    assert charts.radius(3, 0) == 9.0


def test_points_on_one_spot_are_moved_apart_and_the_view_zooms_to_a_district():
    f = charts.frame({"A": SQUARE, "B": EAST}, {"A": "西区", "B": "东区"})
    same = [charts.Point(i, 250.0, 300.0, 10.0, "#000", "new", "t", False) for i in range(3)]
    moved = charts.spread(same)
    assert (moved[0].x, moved[0].y) == (250.0, 300.0)
    for a in moved:
        for b in moved:
            if a.id < b.id:
                assert ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5 >= 19  # apart: no two overlap
    assert charts.view(f, set()).zoom == 1.0
    assert charts.view(f, {"A"}).zoom == 1.0  # half the city: the whole map reads better
    north = {"type": "Polygon", "coordinates": [[[116.0, 40.0], [118.0, 40.0], [118.0, 41.0], [116.0, 41.0],
                                                 [116.0, 40.0]]]}
    f = charts.frame({"A": SQUARE, "B": EAST, "N": north}, {})
    west = charts.view(f, {"A"})
    assert west.zoom < 0.7 and west.box.startswith("-")  # a quarter of the city, with a margin


def test_bars_scale_to_the_highest_and_label_a_few():
    b = charts.bars([0, 5, 10], ["w1", "w2", "w3"])
    assert [(bar["value"], bar["share"]) for bar in b.bars] == [(0, 0.0), (5, 0.5), (10, 1.0)] and b.top == 10
    weeks = charts.bars(list(range(12)), [f"w{i}" for i in range(12)])
    assert [bar["label"] for bar in weeks.bars if bar["tick"]] == ["w0", "w2", "w4", "w6", "w8", "w11"]
    assert charts.bars([], []).bars == [] and charts.bars([0, 0], ["a", "b"]).bars[0]["share"] == 0.0


def test_lines_mark_the_start_and_skip_missing_months():
    months = ["2025-01", "2025-02", "2025-03", "2025-04"]
    c = charts.lines(months, [("本项目", "project", [30.0, 28.0, 10.0, 8.0]),
                              ("可比", "comparison", [None, 20.0, 19.0, 21.0])], "2025-03")
    assert [len(s["dots"]) for s in c.series] == [4, 3]
    assert c.start_x == c.series[0]["dots"][2][0]
    assert c.ticks[-1]["value"] == 32  # the axis' top: at or above the largest value, its quarters whole
    assert [t["value"] for t in c.ticks] == [0, 8, 16, 24, 32]
    assert charts.nice_top(31) == 32 and charts.nice_top(33) == 40 and charts.nice_top(0) == 1.0
    assert charts.lines(months, [("x", "x", [None] * 4)], None).series == []
