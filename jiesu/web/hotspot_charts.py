"""The hot-spot pages' pictures, computed here and drawn by the templates as plain SVG: the districts' map with
the hot spots as points, a weekly bar chart, and a project's effect chart (its tickets against comparable
places', the start marked). No script and no library: a supervisor's phone gets a few kilobytes, and the
pictures read the same with scripts off.

Pure: no database, no request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from jiesu.public import rules as maps

WIDTH = 1000.0  # the map's SVG width (its viewBox); the height keeps the districts' proportions

# One colour per trend label; the board's legend shows the same.
LABEL_COLOURS = {"new": "#d92d20", "intensifying": "#f79009", "persistent": "#7a271a", "sporadic": "#7f56d9",
                 "diminishing": "#1570ef"}


@dataclass(frozen=True)
class Frame:
    """The districts drawn to fit WIDTH (as the public page draws them) and how a longitude and latitude land on
    that drawing: the same equirectangular projection, so points sit where their districts are."""

    paths: dict[str, str]
    height: float
    names: dict[str, str]
    centroids: dict[str, tuple[float, float]]  # district code -> (lng, lat): the mean of its outer rings' points
    min_x: float = 0.0
    max_y: float = 0.0
    k: float = 1.0
    scale: float = 1.0
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # min lng, min lat, max lng, max lat
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # district -> SVG x0 y0 x1 y1

    def project(self, lng: float, lat: float) -> tuple[float, float]:
        return round((lng - self.min_x) * self.k * self.scale, 1), round((self.max_y - lat) * self.scale, 1)

    def inside(self, lng: float | None, lat: float | None) -> bool:
        """Within the city's box (with a small margin): a point outside is a wrong coordinate, not a place."""
        if lng is None or lat is None or not self.paths:
            return False
        x0, y0, x1, y1 = self.bounds
        return x0 - 0.05 <= lng <= x1 + 0.05 and y0 - 0.05 <= lat <= y1 + 0.05


def frame(shapes: dict[str, dict], names: dict[str, str], width: float = WIDTH) -> Frame:
    """The frame of these district geometries (GeoJSON, keyed by district code)."""
    paths, height = maps.svg_paths(shapes, width)
    points = [p for g in shapes.values() for r in maps.rings(g) for p in r]
    if not points:
        return Frame({}, 0.0, names, {})
    min_x, max_x = min(p[0] for p in points), max(p[0] for p in points)
    min_y, max_y = min(p[1] for p in points), max(p[1] for p in points)
    k = math.cos(math.radians((min_y + max_y) / 2))
    scale = width / max((max_x - min_x) * k, 1e-9)
    centroids, boxes = {}, {}
    for code, g in shapes.items():
        pts = [p for r in maps.rings(g) for p in r]
        if pts:
            centroids[code] = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
            boxes[code] = ((min(p[0] for p in pts) - min_x) * k * scale, (max_y - max(p[1] for p in pts)) * scale,
                           (max(p[0] for p in pts) - min_x) * k * scale, (max_y - min(p[1] for p in pts)) * scale)
    return Frame(paths, height, names, centroids, min_x, max_y, k, scale, (min_x, min_y, max_x, max_y), boxes)


@dataclass(frozen=True)
class View:
    """The part of the map a page shows (an SVG viewBox) and how much it is enlarged, so that points keep their
    size on the screen whatever the zoom."""

    box: str
    zoom: float


def view(f: Frame, districts: set[str], points: list[tuple[float, float]] = (), pad: float = 0.08) -> View:
    """The whole city, or the districts named (and the points) when they cover less than half of it: a board
    filtered to a district, a hot spot's page, a street's own view."""
    full = View(f"0 0 {WIDTH:g} {f.height:g}", 1.0)
    boxes = [f.boxes[d] for d in districts if d in f.boxes] + [(x, y, x, y) for x, y in points]
    if not boxes or not f.height:
        return full
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    w, h = max(x1 - x0, 60.0), max(y1 - y0, 60.0)
    x0, y0, w, h = x0 - w * pad, y0 - h * pad, w * (1 + 2 * pad), h * (1 + 2 * pad)
    if w * h > 0.5 * WIDTH * f.height:
        return full
    # keep the city's proportions roughly: a tall thin box would draw a sliver on a wide screen
    aspect = WIDTH / f.height
    if w / h < aspect * 0.6:
        grow = h * aspect * 0.6 - w
        x0, w = x0 - grow / 2, w + grow
    return View(f"{x0:.1f} {y0:.1f} {w:.1f} {h:.1f}", round(w / WIDTH, 3))


@dataclass(frozen=True)
class Point:
    id: int
    x: float
    y: float
    r: float
    colour: str
    label: str
    title: str
    exact: bool  # placed at its tickets' mean position (else at its place's or district's centre)


def place_point(f: Frame, mean: tuple[float | None, float | None] | None,
                centre: tuple[float | None, float | None] | None, district: str) -> tuple[float, float, bool] | None:
    """Where a hot spot goes on the map: its tickets' mean position when they have one inside the city, else its
    place's centre, else its district's centroid; None when none is known (it is listed, not drawn)."""
    for candidate, exact in ((mean, True), (centre, False)):
        if candidate and f.inside(*candidate):
            x, y = f.project(*candidate)  # type: ignore[arg-type]
            return x, y, exact
    if district in f.centroids:
        x, y = f.project(*f.centroids[district])
        return x, y, False
    return None


def radius(tickets: int, most: int, small: float = 9.0, large: float = 30.0) -> float:
    """A point's radius: its area grows with its tickets (the largest hot spot gets `large`)."""
    if most <= 0:
        return small
    return round(small + (large - small) * math.sqrt(max(tickets, 0) / most), 1)


GOLDEN = math.pi * (3 - math.sqrt(5))


def spread(points: list[Point], zoom: float = 1.0) -> list[Point]:
    """Points that fell on the same spot (several hot spots at one district's centroid) moved apart on a
    sunflower spiral around it, far enough for each to be seen and clicked; the first (largest) keeps the spot."""
    anchors: dict[tuple[int, int], tuple[Point, int]] = {}
    out = []
    for p in points:
        key = (round(p.x / (4 * zoom)), round(p.y / (4 * zoom)))
        first, n = anchors.get(key, (p, 0))
        anchors[key] = (first, n + 1)
        if n:
            d = (first.r + p.r) * 1.1 * math.sqrt(n)
            p = Point(p.id, round(first.x + d * math.cos(n * GOLDEN), 1), round(first.y + d * math.sin(n * GOLDEN), 1),
                      p.r, p.colour, p.label, p.title, p.exact)
        out.append(p)
    return out


# --- bar and line charts ---------------------------------------------------------------------------------

@dataclass
class Bars:
    """Bars drawn in HTML (their numbers at the page's own text size): each bar's value, label and its height as
    a share of the highest."""

    bars: list[dict] = field(default_factory=list)  # value, label, share (0..1)
    top: int = 0


def bars(values: list[int], labels: list[str]) -> Bars:
    """One bar per value, the highest filling the chart; labels every few bars, none crowding the last."""
    top = max(values, default=0)
    n = len(values)
    every = max(1, n // 6)
    return Bars([{"value": v, "share": round(v / top, 4) if top else 0.0,
                  "label": label, "tick": i == n - 1 or (i % every == 0 and n - 1 - i >= every)}
                 for i, (v, label) in enumerate(zip(values, labels, strict=True))], top)


@dataclass
class Lines:
    """Two monthly series on one axis (a project's place and the comparison), the project's start marked."""

    width: float
    height: float
    left: float
    bottom: float
    series: list[dict] = field(default_factory=list)  # name, css class, points "x,y ...", dots [(x, y, v)]
    ticks: list[dict] = field(default_factory=list)  # y axis: y, value
    months: list[dict] = field(default_factory=list)  # x axis labels: x, text (every few months)
    start_x: float | None = None


def nice_top(value: float) -> float:
    """A round number at or above `value` for the axis' top, so that its quarters read well."""
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 4.8, 6, 8, 10):  # a quarter of each is a round tick
        if value <= m * exp:
            return m * exp
    return 10 * exp


def lines(months: list[str], series: list[tuple[str, str, list[float | None]]], start: str | None,
          width: float = 640.0, height: float = 240.0, left: float = 56.0, right: float = 28.0,
          top: float = 14.0, bottom: float = 28.0) -> Lines:
    """Monthly series (name, css class, values; None where a month has none) as polylines over the months, with
    a y axis of five ticks and a dashed line at the month `start` (the project's start)."""
    out = Lines(width, height, left, height - bottom)
    n = len(months)
    values = [v for _n, _c, vs in series for v in vs if v is not None]
    if n == 0 or not values:
        return out
    y_top = nice_top(max(values))
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return round(left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 1)

    def y(v: float) -> float:
        return round(top + plot_h * (1 - v / y_top), 1)

    for name, css, vs in series:
        dots = [(x(i), y(v), v) for i, v in enumerate(vs) if v is not None]
        out.series.append({"name": name, "css": css, "points": " ".join(f"{a},{b}" for a, b, _v in dots),
                           "dots": dots})
    out.ticks = [{"y": y(y_top * i / 4), "value": y_top * i / 4} for i in range(5)]
    every = max(1, math.ceil(n / 6))  # six labels at most: they stay apart on a phone
    # none crowding the last, whose label ends at the right edge (the left margin holds the first one)
    out.months = [{"x": x(i), "text": m, "anchor": "end" if i == n - 1 and n > 1 else "middle"}
                  for i, m in enumerate(months) if i == n - 1 or (i % every == 0 and n - 1 - i >= every)]
    if start is not None and start in months:
        out.start_x = x(months.index(start))
    return out
