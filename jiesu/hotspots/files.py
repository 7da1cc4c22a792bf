"""The analysts' file interface: replay a CSV of tickets as the clock would and write what it raises.

`jiesu hotspots mine --input TICKETS.csv --output FOUND.csv` calls `replay_file`. The replay is the
same detection the nightly and hourly jobs run (`detect.HotSpotMiner.mine` for every local midnight,
`detect.SurgeScanner.scan` at the end of every hour a ticket arrived in, vectorised over all of them
at once), so what the file says is what the board would have shown, and when.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from jiesu.calendar.rules import BusinessCalendar
from jiesu.data import DATA_DIR, read_csv
from jiesu.hotspots.detect import (
    Cells,
    DayTypes,
    Finding,
    Geography,
    HotSpotMiner,
    SurgeScanner,
    ancestors,
    repeats,
    title,
)
from jiesu.places.rules import contains
from jiesu.routing.text import segment_many

INPUT_REQUIRED = ("number", "created_at", "text")
INPUT_OPTIONAL = ("category", "street_code", "community_code", "lng", "lat", "caller")
OUTPUT_COLUMNS = ("kind", "label", "street_code", "community_code", "category", "first_at", "last_at",
                  "detected_at", "tickets", "score", "title", "numbers")
LOCAL = timezone(timedelta(hours=8))  # Asia/Shanghai has kept +08:00 without summer time since 1991
LOCAL_OFFSET_S = 8 * 3600
HOTSPOT_REPEAT_DAYS = 84  # raised again within this many days of its last night: the same hot spot
SURGE_REPEAT_HOURS = 24  # raised again within a day of its last hour: the same surge
TITLE_BACKGROUND_SAMPLE = 1000
SEGMENT_CHARS = 160  # jieba is the replay's slowest step: the opening says what a request is about
_CODE = re.compile(r"^\d{12}$")

Classifier = Callable[[list[str]], list[str]]  # texts -> first-level category names


class BadRow(ValueError):  # noqa: N818 - reads as "a bad row", the CLI prints it as is
    """A row of the input that cannot be read: names the row (1 = the first data row) and column."""

    def __init__(self, row: int, column: str, message: str) -> None:
        self.row, self.column = row, column
        super().__init__(f"row {row}, column {column}: {message}")


# ----------------------------------------------------------------- places and calendar

@dataclass(frozen=True)
class Gazetteer:
    geo: Geography
    index: dict[str, int]  # code -> place index
    districts: list[tuple[int, dict]]  # (place index, GeoJSON geometry) for lng/lat fall-back


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The shipped gazetteer as a Geography: districts, streets, communities in one list."""
    places: list[str] = []
    level: list[int] = []
    parent: list[int] = []
    index: dict[str, int] = {}
    for row in read_csv("places/districts.csv"):
        index[row["code"]] = len(places)
        places.append(row["code"])
        level.append(2)
        parent.append(-1)
    for row in read_csv("places/streets.csv"):
        index[row["code"]] = len(places)
        places.append(row["code"])
        level.append(1)
        parent.append(index.get(row["district_code"], -1))
    for row in read_csv("places/communities.csv"):
        index[row["code"]] = len(places)
        places.append(row["code"])
        level.append(0)
        parent.append(index.get(row["street_code"], -1))
    geo = Geography(places, np.array(level, dtype=np.int8), np.array(parent, dtype=np.int32))
    return Gazetteer(geo, index, _district_shapes(index))


def _district_shapes(index: dict[str, int]) -> list[tuple[int, dict]]:
    path = DATA_DIR / "places" / "districts.geojson.gz"
    if not path.exists():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    out = []
    for feat in data.get("features", []):
        props = feat.get("properties") or {}
        code = str(props.get("code") or props.get("adcode") or "")
        code = code + "000000" if len(code) == 6 else code
        if code in index and feat.get("geometry"):
            out.append((index[code], feat["geometry"]))
    return out


def day_types(first_day: int, last_day: int) -> DayTypes:
    """The business calendar (chinese_calendar: holidays and make-up workdays) for local day numbers."""
    cal = BusinessCalendar()
    kinds = np.zeros(max(0, last_day - first_day + 1), dtype=np.int8)
    epoch = date(1970, 1, 1)
    for i in range(len(kinds)):
        d = epoch + timedelta(days=first_day + i)
        if not cal.is_workday(d):
            kinds[i] = 2 if cal.day_name(d) else 1
    return DayTypes(first_day, kinds)


# ----------------------------------------------------------------- reading

@dataclass
class Tickets:
    number: list[str]
    at: np.ndarray  # float seconds since the epoch (UTC)
    text: list[str]
    category: list[str]
    place: np.ndarray  # int64 most specific place index, -1 unknown
    caller: list[str]

    @property
    def local_hour(self) -> np.ndarray:
        return np.floor((self.at + LOCAL_OFFSET_S) / 3600).astype(np.int64)


def _parse_time(value: str, row: int) -> float:
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRow(row, "created_at", f"not an ISO 8601 time: {value!r}") from None
    if t.tzinfo is None:
        raise BadRow(row, "created_at", f"{value!r} has no UTC offset (write e.g. 2024-05-01T08:30:00+08:00)")
    return t.timestamp()


def _place_of(r: dict, row: int, gz: Gazetteer) -> int:
    comm = (r.get("community_code") or "").strip()
    street = (r.get("street_code") or "").strip()
    for col, code in (("community_code", comm), ("street_code", street)):
        if code and (not _CODE.match(code) or code not in gz.index):
            raise BadRow(row, col, f"{code!r} is not a 12-digit code of the gazetteer")
    if comm:
        i = gz.index[comm]
        if gz.geo.level[i] != 0:
            raise BadRow(row, "community_code", f"{comm} is not a community")
        if street and gz.geo.places[int(gz.geo.parent[i])] != street:
            raise BadRow(row, "street_code", f"community {comm} lies in street "
                         f"{gz.geo.places[int(gz.geo.parent[i])]}, not {street}")
        return i
    if street:
        i = gz.index[street]
        if gz.geo.level[i] != 1:
            raise BadRow(row, "street_code", f"{street} is not a street")
        return i
    lng_s, lat_s = (r.get("lng") or "").strip(), (r.get("lat") or "").strip()
    if lng_s or lat_s:
        try:
            lng, lat = float(lng_s), float(lat_s)
        except ValueError:
            raise BadRow(row, "lng" if not _is_float(lng_s) else "lat", "not a number") from None
        if not (-180 <= lng <= 180 and -90 <= lat <= 90) or math.isnan(lng) or math.isnan(lat):
            raise BadRow(row, "lng", f"({lng_s}, {lat_s}) is not a longitude/latitude")
        for idx, geom in gz.districts:
            if contains(geom, lng, lat):
                return idx
    return -1


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def read_rows(rows: Iterable[dict], classify: Classifier | None = None) -> Tickets:
    """Validate and parse input rows; a bad row raises BadRow naming its row and column."""
    gz = gazetteer()
    number, at, text, category, place, caller = [], [], [], [], [], []
    seen: dict[str, int] = {}
    for row, r in enumerate(rows, start=1):
        for col in INPUT_REQUIRED:
            if col not in r or r[col] is None:
                raise BadRow(row, col, "missing column")
        num = str(r["number"]).strip()
        if not num:
            raise BadRow(row, "number", "empty")
        if num in seen:
            raise BadRow(row, "number", f"{num!r} already given in row {seen[num]}")
        seen[num] = row
        number.append(num)
        at.append(_parse_time(str(r["created_at"]), row))
        text.append(str(r["text"] or ""))
        category.append((r.get("category") or "").strip())
        place.append(_place_of(r, row, gz))
        caller.append((r.get("caller") or "").strip())
    missing = [i for i, c in enumerate(category) if not c]
    if missing:
        if classify is None:
            raise BadRow(missing[0] + 1, "category", "empty, and no classifier was given to fill it")
        for i, c in zip(missing, classify([text[i] for i in missing]), strict=True):
            category[i] = c
    return Tickets(number, np.array(at, dtype=float), text, category, np.array(place, dtype=np.int64), caller)


# ----------------------------------------------------------------- replay

def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, LOCAL).isoformat(timespec="seconds")


def _segment(texts: Sequence[str]) -> list[list[str]]:
    """Words of each text's opening (where a request says what it is about); each distinct text once."""
    heads = [x[:SEGMENT_CHARS] for x in texts]
    distinct = list(dict.fromkeys(heads))
    words = dict(zip(distinct, segment_many(distinct), strict=True))
    return [words[h] for h in heads]


def replay(rows: Iterable[dict], classify: Classifier | None = None) -> list[dict]:
    """Every hot spot and surge the nightly/hourly runs would raise over the rows, in time order."""
    t = read_rows(rows, classify)
    if not t.number:
        return []
    gz = gazetteer()
    geo = gz.geo
    cats = sorted(set(t.category))
    cat_ix = {c: i for i, c in enumerate(cats)}
    cat = np.array([cat_ix[c] for c in t.category], dtype=np.int64)
    hour = t.local_hour
    day = hour // 24

    # Near-identical repeats of one caller in one cell within 30 days count once; only rows that share
    # a caller and a cell with another row are compared, so only they are segmented.
    placed = t.place >= 0
    cell_key = np.where(placed, t.place * len(cats) + cat, -1)
    grp = np.array([f"{c}|{k}" if c and k >= 0 else "" for c, k in zip(t.caller, cell_key, strict=True)])
    uniq, counts = np.unique(grp, return_counts=True)
    multi = set(uniq[(counts > 1) & (uniq != "")])
    need = [i for i, g in enumerate(grp) if g in multi]
    terms: list[frozenset[str]] = [frozenset()] * len(t.number)
    for i, words in zip(need, _segment([t.text[i] for i in need]), strict=True):
        terms[i] = frozenset(words)
    drop = repeats(np.array(t.caller, dtype=object), cell_key, t.at, terms)
    use = placed & ~drop

    anc = ancestors(geo)
    tick_anc = np.full((len(t.number), 3), -1, dtype=np.int64)
    tick_anc[placed] = anc[t.place[placed]]

    found: list[tuple[Finding, float, np.ndarray]] = []  # (finding, detected_at UTC seconds, ticket rows)
    if use.any():
        day_cells = _cube(t.place[use], cat[use], day[use])
        hour_cells = _cube(t.place[use], cat[use], hour[use])
        found += _replay_hotspots(day_cells, geo, t, cat, day, use, tick_anc)
        found += _replay_surges(hour_cells, geo, t, cat, hour, use, tick_anc)

    background = _background(t.text)
    out = []
    for f, detected, rows_ in sorted(found, key=lambda x: (x[1], x[0].kind)):
        lvl = int(geo.level[f.place])
        if lvl == 2:
            continue  # the file's columns name a street or a community, never a district
        code = geo.places[f.place]
        street = code if lvl == 1 else geo.places[int(geo.parent[f.place])]
        words = _segment([t.text[i] for i in rows_[:200]])
        out.append({
            "kind": f.kind,
            "label": f.label,
            "street_code": street,
            "community_code": code if lvl == 0 else "",
            "category": cats[f.category],
            "first_at": _iso(float(t.at[rows_].min())),
            "last_at": _iso(float(t.at[rows_].max())),
            "detected_at": _iso(detected),
            "tickets": len(rows_),
            "score": f"{f.score:.2f}",
            "title": title(words, background),
            "numbers": " ".join(t.number[i] for i in rows_[np.argsort(t.at[rows_], kind="stable")]),
        })
    return out


def _cube(place: np.ndarray, cat: np.ndarray, bucket: np.ndarray) -> Cells:
    """The GROUP BY place, category, bucket, in numpy."""
    place, cat, bucket = (np.asarray(x, dtype=np.int64) for x in (place, cat, bucket))
    ncat = int(cat.max()) + 1
    b0 = int(bucket.min())
    span = int(bucket.max()) - b0 + 1
    uk, n = np.unique((place * ncat + cat) * span + (bucket - b0), return_counts=True)
    pc = uk // span
    return Cells((pc // ncat).astype(np.int32), (pc % ncat).astype(np.int32), (uk % span + b0).astype(np.int32),
                 n.astype(np.int32))


def _members(f: Finding, geo: Geography, cat: np.ndarray, bucket: np.ndarray, use: np.ndarray,
             tick_anc: np.ndarray) -> np.ndarray:
    lvl = int(geo.level[f.place])
    sel = use & (cat == f.category) & (tick_anc[:, lvl] == f.place) & (bucket >= f.first_bucket) & (
        bucket <= f.last_bucket)
    return np.nonzero(sel)[0]


def _replay_hotspots(cells: Cells, geo: Geography, t: Tickets, cat: np.ndarray, day: np.ndarray,
                     use: np.ndarray, tick_anc: np.ndarray) -> list[tuple[Finding, float, np.ndarray]]:
    miner = HotSpotMiner(cells, geo)
    last_night: dict[tuple[int, int], int] = {}
    out = []
    for night in range(int(cells.bucket.min()), int(cells.bucket.max()) + 1):
        for f in miner.mine(night):
            key = (f.place, f.category)
            prev = last_night.get(key)
            last_night[key] = night
            if prev is not None and night - prev <= HOTSPOT_REPEAT_DAYS:
                continue
            detected = (night + 1) * 86400 - LOCAL_OFFSET_S  # local midnight after the night's day
            out.append((f, float(detected), _members(f, geo, cat, day, use, tick_anc)))
    return out


def _replay_surges(cells: Cells, geo: Geography, t: Tickets, cat: np.ndarray, hour: np.ndarray,
                   use: np.ndarray, tick_anc: np.ndarray) -> list[tuple[Finding, float, np.ndarray]]:
    first_day = int(cells.bucket.min()) // 24
    last_day = int(cells.bucket.max()) // 24 + 2
    scanner = SurgeScanner(cells, geo, day_types(first_day - 1, last_day))
    # Every place × category × hour a ticket arrived in (rolled up): the checks that can raise anything.
    anc = ancestors(geo)
    parts = []
    for lvl in range(3):
        a = anc[np.asarray(cells.place, dtype=np.int64), lvl]
        ok = a >= 0
        parts.append(np.stack([a[ok], np.asarray(cells.category)[ok], np.asarray(cells.bucket)[ok]], 1))
    q = np.concatenate(parts).astype(np.int64)
    q = _cube(q[:, 0], q[:, 1], q[:, 2])
    hits = scanner.scan(q.place, q.category, q.bucket)
    by_hour: dict[int, list[Finding]] = {}
    for f in hits:
        by_hour.setdefault(f.last_bucket, []).append(f)
    last_hour: dict[tuple[int, int], int] = {}
    out = []
    for h in sorted(by_hour):
        for f in scanner.most_specific(by_hour[h]):
            key = (f.place, f.category)
            prev = last_hour.get(key)
            last_hour[key] = h
            if prev is not None and h - prev <= SURGE_REPEAT_HOURS:
                continue
            detected = (h + 1) * 3600 - LOCAL_OFFSET_S  # the hourly check at the end of its hour
            out.append((f, float(detected), _members(f, geo, cat, hour, use, tick_anc)))
    return out


def _background(texts: Sequence[str]) -> dict[str, float]:
    """Share of tickets containing each word, on a fixed sample (titles need only the common words)."""
    n = len(texts)
    if n == 0:
        return {}
    idx = np.random.default_rng(0).choice(n, size=min(n, TITLE_BACKGROUND_SAMPLE), replace=False)
    df: dict[str, int] = {}
    for words in _segment([texts[i] for i in idx]):
        for w in set(words):
            df[w] = df.get(w, 0) + 1
    return {w: c / len(idx) for w, c in df.items()}


def replay_file(path_in: str | Path, path_out: str | Path, classify: Classifier | None = None) -> int:
    """Read TICKETS.csv, replay it, write FOUND.csv; returns how many rows were written.

    Raises BadRow (a ValueError) naming the row and column of the first bad input row, and
    ValueError for a missing column; writes nothing then."""
    path_in = Path(path_in)
    try:
        with open(path_in, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in INPUT_REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path_in.name}: missing column(s) {', '.join(missing)}")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path_in.name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from exc
    for i, r in enumerate(rows, start=1):
        if None in r:
            raise BadRow(i, "(extra)", "more fields than the header has columns")
    found = replay(rows, classify)
    with open(path_out, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=OUTPUT_COLUMNS)
        w.writeheader()
        w.writerows(found)
    return len(found)
