"""Detection on the place × category × time cube: hot spots, surges, repeats, titles.

Pure numpy/scipy: no models, no SQL. The store builds `Cells` with one GROUP BY and calls these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cells:
    """One row per (place, category, bucket) with a count: the GROUP BY's output."""

    place: np.ndarray  # int32 index into Geography.places
    category: np.ndarray  # int32 index into the caller's categories
    bucket: np.ndarray  # int32 local day number (day cube) or local hour number (hour cube)
    n: np.ndarray  # int32 count (repeats already removed)


@dataclass(frozen=True)
class Geography:
    places: list[str]  # 12-digit codes: communities, streets and districts in one list
    level: np.ndarray  # int8 per place: 0 community, 1 street, 2 district
    parent: np.ndarray  # int32 per place: its street / district / -1


@dataclass(frozen=True)
class DayTypes:
    """The business calendar per local day number: 0 workday (incl. make-up), 1 weekend, 2 holiday."""

    first_day: int
    kind: np.ndarray  # int8


@dataclass
class Finding:
    kind: str  # "hotspot" | "surge"
    place: int
    category: int
    label: str  # hotspot: new/intensifying/persistent/sporadic/diminishing; surge: "surge"
    first_bucket: int  # local day (hotspot) or local hour (surge)
    last_bucket: int
    observed: int
    expected: float
    score: float
    p_value: float
    window_hours: int | None = None
    series: list[int] | None = None  # hotspot: weekly counts, oldest first


def mine_hotspots(cells: Cells, geo: Geography, asof_day: int, *, weeks: int = 12,
                  history_weeks: int = 52) -> list[Finding]:
    raise NotImplementedError("being written on branch i18-detect")


def scan_surges(cells: Cells, geo: Geography, days: DayTypes, asof_hour: int) -> list[Finding]:
    raise NotImplementedError("being written on branch i18-detect")


def repeats(caller: np.ndarray, cell_key: np.ndarray, at: np.ndarray, terms: list[frozenset[str]],
            *, days: int = 30, similarity: float = 0.75) -> np.ndarray:
    raise NotImplementedError("being written on branch i18-detect")


def title(texts: list[list[str]], background: dict[str, float] | None = None, k: int = 3) -> str:
    raise NotImplementedError("being written on branch i18-detect")
