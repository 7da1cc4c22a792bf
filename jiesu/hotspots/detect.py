"""Detection on the place × category × time cube: hot spots, surges, repeats, titles.

Pure numpy/scipy: no models, no SQL. The store builds `Cells` with one GROUP BY and calls these.

`Cells` hold each ticket once, at its most specific known place (community, else street, else
district); detection rolls counts up to streets and districts itself, so a street's count includes
its communities' tickets.

Method (the anchors' expectation-based Poisson scan, Neill 2009, with emerging-hot-spot labels):

- Hot spots: for every place × category, the counts in windows of the last 2, 4, 8 and 12 weeks are
  compared with an expectation from comparable places: the place's share of the city's volume in the
  OTHER categories (over history and window) × the category's city volume in the window. A
  category's seasons and the city's growth are in the city volume; the place's size is in its share;
  the share is floored so a place with almost no tickets does not explode. Places differ in their
  mix of categories more than Poisson allows: the variance is negative binomial, e + kappa·e², kappa
  estimated per level (community, street, district) on every run from all cells, over the whole span
  and the window (the larger), robust to the hot spots themselves; the test is the Poisson tail
  scaled by that variance/mean ratio. The two busiest days of the window are left out of the test,
  so a one- or two-day burst (a surge) never becomes a hot spot. Score: the log-likelihood ratio
  over the variance/mean ratio; raised when the tail probability passes a Bonferroni threshold (5 %
  a night) over the place × category pairs with tickets × windows, with at least 8 tickets and twice
  the expectation; and either a change (the window is also 1.5 times and significantly above the
  pair's own rate before it, shrunk towards its peers as the gamma-Poisson posterior does, so a
  place's stable category mix is not a hot spot) or, with no change, four times its peers (a long-
  standing hot spot such as 天堂河). Labels come from the weekly series (a week is hot at p < 0.05
  against its own week's expectation; Mann-Kendall trend) and the place's own history: new (hot only
  in the last 4 weeks, not before), intensifying / diminishing (significant trend), persistent (hot
  in most weeks, or already hot in its history), sporadic (the rest). A street or district is kept
  only when what its raised communities/streets leave over is still a hot spot on its own (the most
  specific place that explains it).
- Surges: windows of 3, 6, 12 and 24 hours ending at the check hour, per community, street and
  district × category; expectation = the cell's own rate over 28 days with a 2-day guard, counted
  in "normal days" (each day weighted by the city's volume on its day type: workday, weekend,
  holiday), × the city's hour-of-day profile for the day type, floored by the peer expectation
  (the place's share × the category's city rate). Bonferroni over cells × windows × a month of
  hourly checks, at least 5 tickets and 3× the expectation.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincc
from scipy.stats import norm

# --- hot spots
HOT_WINDOWS_WEEKS = (2, 4, 8, 12)
HOT_MIN_COUNT = 8  # tickets in the window (after repeats): below this nothing is a hot spot
HOT_MIN_RATIO = 2.0  # observed / expected, on the counts without the two busiest days
HOT_ALPHA = 0.05  # family-wise error per nightly run, Bonferroni over pairs × windows
HOT_CHANGE_RATIO = 1.5  # ... and 1.5 times its own (shrunk) rate before the window
HOT_PERSISTENT_RATIO = 4.0  # or, with no change, 4 times its peers: a long-standing hot spot
HOT_LEAVE_OUT_DAYS = 2  # busiest days left out of the test: a burst is a surge, not a hot spot
WEEK_ALPHA = 0.05  # a week is "hot" in the label's series at this level
RECENT_WEEKS = 4  # "new": hot only in the last weeks
SHARE_FLOOR = 0.5  # the share floor: this fraction of the median share at the place's level

# --- surges
SURGE_WINDOWS_HOURS = (3, 6, 12, 24)
SURGE_MIN_COUNT = 5
SURGE_MIN_RATIO = 3.0
SURGE_ALARMS_PER_MONTH = 1.0  # expected false alarms a month city-wide under the Poisson baseline
SURGE_BASELINE_DAYS = 28
SURGE_GUARD_DAYS = 2
SURGE_MIN_BASELINE_DAYS = 14  # fewer days of data than this before the guard: no baseline yet
SURGE_REPEAT_HOURS = 24  # raised again within a day: the same surge
HOURS_PER_MONTH = 720

LABELS = ("new", "intensifying", "persistent", "sporadic", "diminishing")


@dataclass(frozen=True)
class Cells:
    """One row per (place, category, bucket) with a count: the GROUP BY's output.

    Each ticket is counted once, at its most specific place (community if known, else its street,
    else its district); detection adds the street and district totals itself."""

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

    def of(self, day: np.ndarray) -> np.ndarray:
        """Day types of local day numbers; outside the table: Monday-Friday workdays."""
        day = np.asarray(day, dtype=np.int64)
        i = day - self.first_day
        inside = (i >= 0) & (i < len(self.kind))
        # 1970-01-01 was a Thursday: weekday = (day + 3) % 7, Monday = 0.
        out = np.where((day + 3) % 7 >= 5, 1, 0).astype(np.int8)
        out[inside] = self.kind[i[inside]]
        return out


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


# ----------------------------------------------------------------- statistics

def poisson_sf(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(X >= observed) for X ~ Poisson(expected), exact (the regularised lower gamma)."""
    o = np.asarray(observed, dtype=float)
    e = np.maximum(np.asarray(expected, dtype=float), 1e-12)
    # P(X >= k) = P(Gamma(k) <= e) = 1 - Q(k, e); k <= 0 is certain.
    out = np.ones(np.broadcast(o, e).shape)
    pos = np.broadcast_to(o > 0, out.shape)
    ob, eb = np.broadcast_to(o, out.shape), np.broadcast_to(e, out.shape)
    out[pos] = 1.0 - gammaincc(ob[pos], eb[pos])
    return np.clip(out, 0.0, 1.0)


def poisson_llr(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Kulldorff/Neill log-likelihood ratio of a raised rate; 0 when observed <= expected."""
    o = np.asarray(observed, dtype=float)
    e = np.maximum(np.asarray(expected, dtype=float), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = np.where(o > e, o * np.log(np.where(o > 0, o, 1.0) / e) - (o - e), 0.0)
    return llr


def overdispersion(observed: np.ndarray, expected: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per level, kappa of a negative-binomial variance e + kappa e^2 (places differ in their category
    mix more than Poisson allows), by moments on the cells without the top 0.5 % residuals (the hot
    spots themselves); 0 where too few cells say anything."""
    o, e = np.asarray(observed, dtype=float), np.asarray(expected, dtype=float)
    kappa = np.zeros(3)
    for lvl in range(3):
        sel = (level == lvl) & (e >= 0.5)
        if sel.sum() < 30:
            continue
        oo, ee = o[sel], e[sel]
        z = (oo - ee) / np.sqrt(ee)
        keep = z <= np.quantile(z, 0.995)
        oo, ee = oo[keep], ee[keep]
        kappa[lvl] = max(0.0, float(np.sum((oo - ee) ** 2 - oo) / np.sum(ee ** 2)))
    return kappa


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall Z and two-sided p per row of a (k, n) array (tie-corrected variance)."""
    x = np.asarray(series, dtype=float)
    k, n = x.shape
    if n < 3:
        return np.zeros(k), np.ones(k)
    diff = np.sign(x[:, None, :] - x[:, :, None])  # [r, i, j] = sign(x_j - x_i)
    s = np.triu(diff, 1).sum(axis=(1, 2))
    var = np.full(k, n * (n - 1) * (2 * n + 5) / 18.0)
    for r in range(k):
        _, t = np.unique(x[r], return_counts=True)
        var[r] -= float(np.sum(t * (t - 1) * (2 * t + 5))) / 18.0
    var = np.maximum(var, 1e-9)
    z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    return z, 2 * norm.sf(np.abs(z))


# ----------------------------------------------------------------- places

def ancestors(geo: Geography) -> np.ndarray:
    """(places, 3) array: the place's community / street / district index at each level, or -1."""
    m = len(geo.places)
    level = np.asarray(geo.level, dtype=np.int64)
    parent = np.asarray(geo.parent, dtype=np.int64)
    out = np.full((m, 3), -1, dtype=np.int64)
    cur = np.arange(m, dtype=np.int64)
    for _ in range(3):
        ok = cur >= 0
        out[np.nonzero(ok)[0], level[cur[ok]]] = cur[ok]
        nxt = np.full(m, -1, dtype=np.int64)
        nxt[ok] = parent[cur[ok]]
        cur = nxt
    return out


def rollup(cells: Cells, geo: Geography) -> Cells:
    """Each count also at the place's street and district (sums per place × category × bucket)."""
    anc = ancestors(geo)
    place = np.asarray(cells.place, dtype=np.int64)
    parts_p, parts_c, parts_b, parts_n = [], [], [], []
    for lvl in range(3):
        a = anc[place, lvl]
        ok = a >= 0
        parts_p.append(a[ok])
        parts_c.append(np.asarray(cells.category, dtype=np.int64)[ok])
        parts_b.append(np.asarray(cells.bucket, dtype=np.int64)[ok])
        parts_n.append(np.asarray(cells.n, dtype=np.int64)[ok])
    p, c, b, n = (np.concatenate(x) for x in (parts_p, parts_c, parts_b, parts_n))
    if len(p) == 0:
        e = np.zeros(0, dtype=np.int64)
        return Cells(e, e, e, e)
    ncat = int(c.max()) + 1
    b0 = int(b.min())
    span = int(b.max()) - b0 + 1
    key = (p * ncat + c) * span + (b - b0)
    size = (int(p.max()) + 1) * ncat * span
    if size <= 64_000_000:  # a day cube: counting into every possible cell is cheaper than sorting
        dense = np.bincount(key, weights=n, minlength=size)
        uk = np.flatnonzero(dense)
        tot = dense[uk].astype(np.int64)
    else:
        uk, inv = np.unique(key, return_inverse=True)
        tot = np.bincount(inv, weights=n).astype(np.int64)
    bb = uk % span + b0
    pc = uk // span
    return Cells(pc // ncat, pc % ncat, bb, tot)


def _share_floor(place_total: np.ndarray, level: np.ndarray, grand: float) -> np.ndarray:
    """Per level: SHARE_FLOOR × the median share of the places at that level that have tickets."""
    floors = np.zeros(3)
    for lvl in range(3):
        t = place_total[(level == lvl) & (place_total > 0)]
        floors[lvl] = SHARE_FLOOR * float(np.median(t)) / grand if len(t) and grand > 0 else 0.0
    return floors


class _Prefix:
    """Sums of n over bucket ranges per key, by sorting once and binary search: sum(key, lo, hi)
    counts buckets lo <= b < hi; vectorised over any number of queries."""

    def __init__(self, key: np.ndarray, bucket: np.ndarray, n: np.ndarray) -> None:
        self.b0 = int(bucket.min()) if len(bucket) else 0
        self.span = (int(bucket.max()) - self.b0 + 2) if len(bucket) else 1
        comp = key.astype(np.int64) * self.span + (bucket.astype(np.int64) - self.b0)
        order = np.argsort(comp, kind="stable")
        self.comp = comp[order]
        self.cum = np.concatenate([[0], np.cumsum(n[order].astype(np.int64))])

    def _pos(self, key: np.ndarray, b: np.ndarray) -> np.ndarray:
        b = np.clip(np.asarray(b, dtype=np.int64) - self.b0, 0, self.span - 1)
        return np.searchsorted(self.comp, np.asarray(key, dtype=np.int64) * self.span + b, side="left")

    def sum(self, key: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self.cum[self._pos(key, hi)] - self.cum[self._pos(key, lo)]


# ----------------------------------------------------------------- hot spots

class HotSpotMiner:
    """The day cube prepared once (rolled up, cumulated per place × category); `mine(day)` is one
    nightly run. The file replay calls `mine` for every night without rebuilding."""

    def __init__(self, cells: Cells, geo: Geography, *, weeks: int = 12, history_weeks: int = 52) -> None:
        self.geo = geo
        self.weeks = weeks
        self.history_weeks = history_weeks
        self.windows = tuple(w for w in HOT_WINDOWS_WEEKS if w < weeks) + (weeks,)
        self.level = np.asarray(geo.level, dtype=np.int64)
        self.parent = np.asarray(geo.parent, dtype=np.int64)
        self.anc = ancestors(geo)
        nplaces = len(geo.places)
        base_c = np.asarray(cells.category, dtype=np.int64)
        self.ncat = int(base_c.max()) + 1 if len(base_c) else 1
        self.empty = len(base_c) == 0
        if self.empty:
            return
        bucket = np.asarray(cells.bucket, dtype=np.int64)
        self.d0 = int(bucket.min())
        self.ndays = int(bucket.max()) - self.d0 + 1
        # City totals per category per day, each ticket once (from the cells before the roll-up).
        cat_day = np.bincount(base_c * self.ndays + (bucket - self.d0), weights=np.asarray(cells.n, dtype=float),
                              minlength=self.ncat * self.ndays).reshape(self.ncat, self.ndays).astype(np.int64)
        self.cat_cs = np.concatenate([np.zeros((self.ncat, 1), np.int64), np.cumsum(cat_day, 1)], 1)
        up = rollup(cells, geo)
        pc = up.place * self.ncat + up.category
        # Place totals per day (all categories): for the shares.
        place_day_key = up.place * self.ndays + (up.bucket - self.d0)
        pd = np.bincount(place_day_key, weights=up.n, minlength=nplaces * self.ndays)
        self.place_cs = np.concatenate(
            [np.zeros((nplaces, 1)), np.cumsum(pd.reshape(nplaces, self.ndays), 1)], 1).astype(np.int64)
        # Only place × category pairs with enough tickets in all could ever be raised: keep them dense.
        pair_tot = np.bincount(pc, weights=up.n)
        keep = np.nonzero(pair_tot >= HOT_MIN_COUNT)[0]
        self.pair_place = keep // self.ncat
        self.pair_cat = keep % self.ncat
        row = np.full(len(pair_tot), -1, dtype=np.int64)
        row[keep] = np.arange(len(keep))
        r = row[pc]
        ok = r >= 0
        dense = np.bincount(r[ok] * self.ndays + (up.bucket[ok] - self.d0), weights=up.n[ok].astype(float),
                            minlength=len(keep) * self.ndays).reshape(len(keep), self.ndays).astype(np.int32)
        self.pair_cs = np.concatenate([np.zeros((len(keep), 1), np.int32), np.cumsum(dense, 1, dtype=np.int32)], 1)
        self.pair_index = {int(k): i for i, k in enumerate(keep)}
        grand = float(self.cat_cs[:, -1].sum())
        self.floors = _share_floor(self.place_cs[:, -1].astype(float), self.level, grand)
        # Bonferroni over the place × category pairs that have any ticket at all, × windows
        self.n_tests = max(1, int((pair_tot > 0).sum()) * len(self.windows))
        self.threshold = HOT_ALPHA / self.n_tests

    # window sums over local days lo..hi-1 (indices clipped to the data)
    def _idx(self, day: np.ndarray | int) -> np.ndarray:
        return np.clip(np.asarray(day, dtype=np.int64) - self.d0, 0, self.ndays)

    def _expected(self, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, share_lo: int, share_hi: int) -> np.ndarray:
        """Peer expectation for pair rows over days [lo, hi): floored other-category share × city volume."""
        p, c = self.pair_place[rows], self.pair_cat[rows]
        a, b = self._idx(share_lo), self._idx(share_hi)
        t_pc = self.pair_cs[rows, b].astype(float) - self.pair_cs[rows, a]
        t_p = self.place_cs[p, b].astype(float) - self.place_cs[p, a]
        t_c = self.cat_cs[c, b].astype(float) - self.cat_cs[c, a]
        t = float(self.cat_cs[:, b].sum() - self.cat_cs[:, a].sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(t - t_c > 0, (t_p - t_pc) / (t - t_c), 0.0)
        share = np.maximum(share, self.floors[self.level[p]])
        vol = self.cat_cs[c, self._idx(hi)].astype(float) - self.cat_cs[c, self._idx(lo)]
        return share * vol

    def mine(self, asof_day: int) -> list[Finding]:
        """One nightly run over the weeks ending with local day `asof_day` (inclusive)."""
        if self.empty or len(self.pair_place) == 0:
            return []
        end = asof_day + 1
        if end - self.d0 < 7 * min(self.windows):
            return []
        share_lo = end - 7 * (self.weeks + self.history_weeks)
        e = self._idx(end)
        sums = {w: self.pair_cs[:, e] - self.pair_cs[:, self._idx(end - 7 * w)] for w in self.windows}
        cand = np.nonzero(np.max(np.stack(list(sums.values())), 0) >= HOT_MIN_COUNT)[0]
        if len(cand) == 0:
            return []
        span = 7 * self.weeks
        lo_i = self._idx(end - span)
        daily = np.diff(self.pair_cs[cand, lo_i:e + 1].astype(np.int64), axis=1)
        if daily.shape[1] < span:  # data starts inside the window: pad the missing days with zeros
            daily = np.concatenate([np.zeros((len(cand), span - daily.shape[1]), np.int64), daily], 1)
        best = np.full(len(cand), -1.0)
        best_w = np.zeros(len(cand), dtype=np.int64)
        best_o = np.zeros(len(cand))
        best_e = np.zeros(len(cand))
        best_p = np.ones(len(cand))
        allrows = np.arange(len(self.pair_place))
        lvl_all = self.level[self.pair_place]
        # Heterogeneity is a property of the places, not of the window: read it where it shows best,
        # over the whole span (history and window), and never below what the window itself says.
        o_span = (self.pair_cs[:, e] - self.pair_cs[:, self._idx(share_lo)]).astype(float)
        e_span = self._expected(allrows, np.full(len(allrows), share_lo), np.full(len(allrows), end), share_lo, end)
        kappa_span = overdispersion(o_span, e_span, lvl_all)
        for w in self.windows:
            days_w = 7 * w
            o = sums[w][cand].astype(float)
            ex_all = self._expected(allrows, np.full(len(allrows), end - days_w), np.full(len(allrows), end),
                                    share_lo, end)
            kappa = np.maximum(kappa_span, overdispersion(sums[w].astype(float), ex_all, lvl_all))
            ex = ex_all[cand]
            part = np.sort(daily[:, -days_w:], axis=1)[:, -HOT_LEAVE_OUT_DAYS:].sum(1)
            o_r = o - part
            e_r = ex * (days_w - HOT_LEAVE_OUT_DAYS) / days_w
            # level: scaled Poisson with the negative-binomial variance (phi = variance / mean)
            k = kappa[self.level[self.pair_place[cand]]]
            phi = 1.0 + k * e_r
            p = poisson_sf(o_r / phi, e_r / phi)
            llr = poisson_llr(o_r, e_r) / phi
            # change: against the pair's own rate before the window, shrunk towards its peers (the
            # gamma-Poisson posterior), so a place that has always had more of a category than its
            # peers is raised only when it is far above them (HOT_PERSISTENT_RATIO), as 天堂河 was
            h_lo, h_hi = share_lo, end - 7 * self.weeks  # before the longest window: clear of a new problem
            o_h = (self.pair_cs[cand, self._idx(h_hi)] - self.pair_cs[cand, self._idx(h_lo)]).astype(float)
            e_h = self._expected(cand, np.full(len(cand), h_lo), np.full(len(cand), h_hi), share_lo, end)
            inv = np.where(k > 1e-9, 1.0 / np.maximum(k, 1e-9), np.inf)
            with np.errstate(invalid="ignore"):
                mult = np.where(np.isinf(inv), 1.0, (o_h + inv) / (e_h + inv))
                k_post = np.where(np.isinf(inv), 0.0, 1.0 / (inv + e_h))
            e_own = e_r * mult
            phi_own = 1.0 + k_post * e_own
            p_own = poisson_sf(o_r / phi_own, e_own / phi_own)
            # with less history than the window, a change cannot be told from a place's usual mix
            history_days = h_hi - max(h_lo, self.d0)
            changed = (p_own <= self.threshold) & (o_r >= HOT_CHANGE_RATIO * e_own) & (
                history_days >= 7 * self.weeks)
            ok = ((o >= HOT_MIN_COUNT) & (o_r >= HOT_MIN_RATIO * e_r) & (p <= self.threshold)
                  & (changed | (o_r >= HOT_PERSISTENT_RATIO * e_r)) & (llr > best))
            best = np.where(ok, llr, best)
            best_w = np.where(ok, w, best_w)
            best_o = np.where(ok, o, best_o)
            best_e = np.where(ok, ex, best_e)
            best_p = np.where(ok, p, best_p)
        hit = np.nonzero(best >= 0)[0]
        if len(hit) == 0:
            return []
        rows = cand[hit]
        labels, series = self._labels(rows, daily[hit], end, share_lo)
        found = []
        for j, i in enumerate(hit):
            w = int(best_w[i])
            seg = daily[i, -7 * w:]
            nz = np.nonzero(seg)[0]
            first = end - 7 * w + (int(nz[0]) if len(nz) else 0)
            found.append(Finding(
                kind="hotspot", place=int(self.pair_place[rows[j]]), category=int(self.pair_cat[rows[j]]),
                label=labels[j], first_bucket=first, last_bucket=asof_day, observed=int(best_o[i]),
                expected=float(best_e[i]), score=float(best[i]), p_value=float(best_p[i]),
                window_hours=None, series=series[j]))
        return self._most_specific(found, end, share_lo)

    def _labels(self, rows: np.ndarray, daily: np.ndarray, end: int,
                share_lo: int) -> tuple[list[str], list[list[int]]]:
        k, weeks = len(rows), self.weeks
        weekly = daily.reshape(k, weeks, 7).sum(2)
        exp_w = np.stack([
            self._expected(rows, np.full(k, end - 7 * (weeks - i)), np.full(k, end - 7 * (weeks - i - 1)),
                           share_lo, end)
            for i in range(weeks)], 1)
        hot = (poisson_sf(weekly, exp_w) < WEEK_ALPHA) & (weekly >= 2)
        # Its own history before the window: was it already well above its peers?
        h_lo, h_hi = end - 7 * (weeks + self.history_weeks), end - 7 * weeks
        o_h = (self.pair_cs[rows, self._idx(h_hi)] - self.pair_cs[rows, self._idx(h_lo)]).astype(float)
        e_h = self._expected(rows, np.full(k, h_lo), np.full(k, h_hi), share_lo, end)
        was_hot = (o_h >= HOT_MIN_COUNT) & (o_h >= HOT_MIN_RATIO * e_h) & (poisson_sf(o_h, e_h) < 1e-3)
        z, p = mann_kendall(weekly)
        recent = min(RECENT_WEEKS, weeks)
        labels = []
        for i in range(k):
            early_hot = int(hot[i, :weeks - recent].sum())
            frac = float(hot[i].mean())
            if not was_hot[i] and early_hot <= 1 and hot[i, weeks - recent:].any():
                labels.append("new")
            elif p[i] < 0.05 and z[i] > 0:
                labels.append("intensifying")
            elif p[i] < 0.05 and z[i] < 0:
                labels.append("diminishing")
            elif frac >= 0.5 or (was_hot[i] and frac >= 1 / 3):
                labels.append("persistent")
            else:
                labels.append("sporadic")
        return labels, [[int(v) for v in r] for r in weekly]

    def _most_specific(self, found: list[Finding], end: int, share_lo: int) -> list[Finding]:
        """Keep a street/district only if what its raised sub-places leave over is still a hot spot."""
        kept: list[Finding] = []
        for lvl in (0, 1, 2):
            for f in (x for x in found if self.level[x.place] == lvl):
                subs = [g for g in kept if g.category == f.category and self.anc[g.place, lvl] == f.place]
                # the top-most raised sub-places only (a street kept already covers its communities)
                subs = [g for g in subs if not any(
                    h is not g and h.category == g.category and self.level[h.place] > self.level[g.place]
                    and self.anc[g.place, self.level[h.place]] == h.place for h in subs)]
                if not subs:
                    kept.append(f)
                    continue
                lo = f.first_bucket
                rows = np.array([self.pair_index[g.place * self.ncat + g.category] for g in subs])
                me = self.pair_index[f.place * self.ncat + f.category]
                o_sub = float((self.pair_cs[rows, self._idx(end)] - self.pair_cs[rows, self._idx(lo)]).sum())
                e_sub = float(self._expected(rows, np.full(len(rows), lo), np.full(len(rows), end),
                                             share_lo, end).sum())
                o_me = float(self.pair_cs[me, self._idx(end)] - self.pair_cs[me, self._idx(lo)])
                e_me = float(self._expected(np.array([me]), np.array([lo]), np.array([end]), share_lo, end)[0])
                o_r, e_r = o_me - o_sub, max(e_me - e_sub, 0.05 * e_me, 1e-6)
                p = float(poisson_sf(np.array([o_r]), np.array([e_r]))[0])
                if o_r >= HOT_MIN_COUNT and o_r >= HOT_MIN_RATIO * e_r and p <= self.threshold:
                    kept.append(f)
        kept.sort(key=lambda x: -x.score)
        return kept


def mine_hotspots(cells: Cells, geo: Geography, asof_day: int, *, weeks: int = 12,
                  history_weeks: int = 52) -> list[Finding]:
    """Hot spots over the `weeks` weeks ending with local day `asof_day` (inclusive), day cube."""
    return HotSpotMiner(cells, geo, weeks=weeks, history_weeks=history_weeks).mine(asof_day)


# ----------------------------------------------------------------- surges

class SurgeScanner:
    """The hour cube prepared once; `scan(hours)` evaluates windows ending at each given hour for the
    given place × category pairs, vectorised (the file replay evaluates every hour a ticket arrived)."""

    def __init__(self, cells: Cells, geo: Geography, days: DayTypes) -> None:
        self.geo = geo
        self.days = days
        self.level = np.asarray(geo.level, dtype=np.int64)
        self.anc = ancestors(geo)
        base_c = np.asarray(cells.category, dtype=np.int64)
        self.empty = len(base_c) == 0
        if self.empty:
            return
        self.ncat = int(base_c.max()) + 1
        hour = np.asarray(cells.bucket, dtype=np.int64)
        n = np.asarray(cells.n, dtype=np.int64)
        self.h0 = (int(hour.min()) // 24) * 24
        self.first_day = self.h0 // 24
        last_day = int(hour.max()) // 24 + 2
        nd = last_day - self.first_day + 1
        self.nh = nd * 24
        # City hourly volume -> day-type factors and hour-of-day profiles (the calendar knows holidays).
        city = np.bincount(hour - self.h0, weights=n, minlength=self.nh)[: self.nh].reshape(nd, 24)
        dtype_ = days.of(np.arange(self.first_day, self.first_day + nd))
        daily = city.sum(1)
        mean_all = daily.mean() if daily.sum() > 0 else 1.0
        f = np.ones(3)
        prof_all = (city.sum(0) + 1.0) / (city.sum() + 24.0)
        prof = np.tile(prof_all, (3, 1))
        for k in range(3):
            sel = dtype_ == k
            if sel.sum() >= 1 and mean_all > 0:
                # shrink towards 1 when the type has few days (a year has ~ 11 holidays)
                m = sel.sum()
                f[k] = (daily[sel].sum() / mean_all + 3.0 * (f[1] if k == 2 else 1.0)) / (m + 3.0)
                prof[k] = (city[sel].sum(0) + 50.0 * prof_all) / (city[sel].sum() + 50.0)
        self.f = f
        self.day_weight = f[dtype_]  # per data day: its "normal days" worth
        self.day_cs = np.concatenate([[0.0], np.cumsum(self.day_weight)])
        hw = (f[dtype_][:, None] * prof[dtype_]).reshape(-1)  # expected share of a normal day per hour
        self.hour_cs = np.concatenate([[0.0], np.cumsum(hw)])
        up = rollup(cells, geo)
        self.up = up
        self.pair = _Prefix(up.place * self.ncat + up.category, up.bucket, up.n)
        self.place_sum = _Prefix(up.place, up.bucket, up.n)
        self.cat_sum = _Prefix(base_c, hour, n)
        self.all_sum = _Prefix(np.zeros(len(hour), np.int64), hour, n)
        tot = np.bincount(up.place, weights=up.n, minlength=len(geo.places))
        self.floors = _share_floor(tot, self.level, float(n.sum()))
        n_pairs = len(np.unique(up.place * self.ncat + up.category))
        self.n_tests = max(1, n_pairs) * len(SURGE_WINDOWS_HOURS)
        self.threshold = SURGE_ALARMS_PER_MONTH / (self.n_tests * HOURS_PER_MONTH)

    def _hidx(self, h: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(h, dtype=np.int64) - self.h0, 0, self.nh)

    def scan(self, place: np.ndarray, category: np.ndarray, hour: np.ndarray) -> list[Finding]:
        """Findings for windows ending at `hour` (inclusive) for each (place, category, hour) query."""
        if self.empty or len(place) == 0:
            return []
        place = np.asarray(place, dtype=np.int64)
        cat = np.asarray(category, dtype=np.int64)
        hour = np.asarray(hour, dtype=np.int64)
        key = place * self.ncat + cat
        obs = {w: self.pair.sum(key, hour - w + 1, hour + 1) for w in SURGE_WINDOWS_HOURS}
        cand = np.nonzero(np.max(np.stack(list(obs.values())), 0) >= SURGE_MIN_COUNT)[0]
        if len(cand) == 0:
            return []
        p, c, h, k = place[cand], cat[cand], hour[cand], key[cand]
        day = h // 24
        b_hi = day - SURGE_GUARD_DAYS
        b_lo = np.maximum(b_hi - SURGE_BASELINE_DAYS, self.first_day)
        covered = b_hi - b_lo
        nd = len(self.day_weight)
        d_lo, d_hi = np.clip(b_lo - self.first_day, 0, nd), np.clip(b_hi - self.first_day, 0, nd)
        normal_days = np.maximum(self.day_cs[d_hi] - self.day_cs[d_lo], 1e-9)
        own = self.pair.sum(k, b_lo * 24, b_hi * 24)
        at_place = self.place_sum.sum(p, b_lo * 24, b_hi * 24).astype(float)
        at_cat = self.cat_sum.sum(c, b_lo * 24, b_hi * 24).astype(float)
        allv = self.all_sum.sum(np.zeros(len(p), np.int64), b_lo * 24, b_hi * 24).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(allv > 0, at_place / allv, 0.0)
        share = np.maximum(share, self.floors[self.level[p]])
        rate = np.maximum(own / normal_days, share * at_cat / normal_days)  # per normal day
        best = np.full(len(cand), -1.0)
        res = {name: np.zeros(len(cand)) for name in ("w", "o", "e", "p")}
        for w in SURGE_WINDOWS_HOURS:
            o = obs[w][cand].astype(float)
            weight = self.hour_cs[self._hidx(h + 1)] - self.hour_cs[self._hidx(h - w + 1)]
            ex = np.maximum(rate * weight, 1e-6)
            pv = poisson_sf(o, ex)
            llr = poisson_llr(o, ex)
            ok = ((covered >= SURGE_MIN_BASELINE_DAYS) & (o >= SURGE_MIN_COUNT) & (o >= SURGE_MIN_RATIO * ex)
                  & (pv <= self.threshold) & (llr > best))
            best = np.where(ok, llr, best)
            for name, v in (("w", w), ("o", o), ("e", ex), ("p", pv)):
                res[name] = np.where(ok, v, res[name])
        hit = np.nonzero(best >= 0)[0]
        out = []
        for i in hit:
            w = int(res["w"][i])
            out.append(Finding(
                kind="surge", place=int(p[i]), category=int(c[i]), label="surge",
                first_bucket=int(h[i]) - w + 1, last_bucket=int(h[i]), observed=int(res["o"][i]),
                expected=float(res["e"][i]), score=float(best[i]), p_value=float(res["p"][i]), window_hours=w))
        return out

    def most_specific(self, found: list[Finding], raised: Sequence[Finding] = ()) -> list[Finding]:
        """Among findings of the same check hour and category, keep a street/district only if its
        count beyond its raised sub-places (now, or in `raised`: surges of the last day) is still a surge."""
        kept: list[Finding] = []
        for lvl in (0, 1, 2):
            for f in (x for x in found if self.level[x.place] == lvl):
                subs = [g for g in [*kept, *raised] if g.category == f.category
                        and f.last_bucket - SURGE_REPEAT_HOURS < g.last_bucket <= f.last_bucket
                        and self.level[g.place] < lvl and self.anc[g.place, lvl] == f.place]
                subs = list({(g.place, g.category): g for g in subs}.values())
                subs = [g for g in subs if not any(
                    h is not g and self.level[h.place] > self.level[g.place]
                    and self.anc[g.place, self.level[h.place]] == h.place for h in subs)]
                if not subs:
                    kept.append(f)
                    continue
                lo, hi = f.first_bucket, f.last_bucket + 1
                o_sub = sum(int(self.pair.sum(np.array([g.place * self.ncat + g.category]), np.array([lo]),
                                              np.array([hi]))[0]) for g in subs)
                o_r = f.observed - o_sub
                e_r = max(f.expected * 0.5, 1e-6)  # the sub-places carry part of the expectation too
                p = float(poisson_sf(np.array([o_r]), np.array([e_r]))[0])
                if o_r >= SURGE_MIN_COUNT and o_r >= SURGE_MIN_RATIO * e_r and p <= self.threshold:
                    kept.append(f)
        return kept

    def scan_hour(self, asof_hour: int) -> list[Finding]:
        """Every place × category with a ticket in the last day, windows ending at `asof_hour`."""
        if self.empty:
            return []
        up = self.up
        sel = (up.bucket > asof_hour - max(SURGE_WINDOWS_HOURS)) & (up.bucket <= asof_hour)
        keys = np.unique(up.place[sel] * self.ncat + up.category[sel])
        found = self.scan(keys // self.ncat, keys % self.ncat, np.full(len(keys), asof_hour))
        return sorted(self.most_specific(found), key=lambda x: -x.score)


def scan_surges(cells: Cells, geo: Geography, days: DayTypes, asof_hour: int) -> list[Finding]:
    """Surges in windows ending with local hour `asof_hour` (inclusive), on the hour cube."""
    return SurgeScanner(cells, geo, days).scan_hour(asof_hour)


# ----------------------------------------------------------------- repeats

def repeats(caller: np.ndarray, cell_key: np.ndarray, at: np.ndarray, terms: list[frozenset[str]],
            *, days: int = 30, similarity: float = 0.75) -> np.ndarray:
    """True for the rows to DROP: a later ticket of the same caller in the same cell within `days`
    days of a counted one whose term set has Jaccard similarity >= `similarity` with it.

    `at` is seconds (any epoch) or datetime64; an empty/None caller is never a repeat."""
    m = len(cell_key)
    drop = np.zeros(m, dtype=bool)
    if m < 2:
        return drop
    at = np.asarray(at)
    if np.issubdtype(at.dtype, np.datetime64):
        secs = at.astype("datetime64[s]").astype(np.float64)
    else:
        secs = at.astype(np.float64)
    callers = np.asarray(["" if x is None else str(x) for x in caller], dtype=object)
    _, cid = np.unique(callers.astype(str), return_inverse=True)
    known = callers != ""
    order = np.lexsort((secs, np.asarray(cell_key, dtype=np.int64), cid))
    same = np.zeros(m, dtype=bool)
    o = order
    ck = np.asarray(cell_key)
    same[1:] = (cid[o[1:]] == cid[o[:-1]]) & (ck[o[1:]] == ck[o[:-1]]) & known[o[1:]]
    window = days * 86400.0
    i = 0
    while i < m:
        j = i + 1
        while j < m and same[j]:
            j += 1
        if j - i > 1:
            counted: list[int] = []
            for pos in range(i, j):
                r = o[pos]
                t = terms[r]
                dup = False
                for q in counted:
                    if secs[r] - secs[q] <= window:
                        u = len(t | terms[q])
                        if u == 0 or len(t & terms[q]) / u >= similarity:
                            dup = True
                            break
                if dup:
                    drop[r] = True
                else:
                    counted.append(r)
                    counted = [q for q in counted if secs[r] - secs[q] <= window]
        i = j
    return drop


# ----------------------------------------------------------------- titles

_STOP_TEXT = """
我们 你们 他们 她们 它们 我 你 他 她 它 的 了 是 在 有 和 与 及 或 也 都 就 还 又 很 太 被 把 给 让 对 从 向 到 为 以
这个 那个 这些 那些 这里 那里 这样 那样 什么 怎么 怎么办 为什么 如何 是否 能否 可否 可以 能够 应该 需要 没有 不是 一个
问题 反映 反应 希望 请问 请求 现在 目前 已经 一直 进行 相关 有关 部门 领导 情况 市民 居民 群众 业主 我家 本人 您好 你好
谢谢 感谢 由于 因为 所以 但是 而且 如果 就是 还是 以及 关于 对于 严重 解决 处理 投诉 咨询 建议 要求 政府 尽快 影响 存在
时间 每天 多次 一下 一些 这种 那种 非常 特别 其他 其中 不能 不会 不要 没 不 很多 许多 导致 造成 出现 发生 今年 去年
明年 今天 昨天 小时 分钟 日 月 年 号 到底 帮忙 帮助 麻烦 联系 电话 回复 答复 工作 人员 单位 管理 有限公司 公司 市 区
街道 社区 小区 村 镇 乡 县 省 路 街 附近 周边 里面 地方 位置 所在 自己 大家 他们 进行 了解 知道 看到 发现 以上 以下 后来
之前 之后 然后 同时 并且 而是 只是 直接 终于 仍然 依然 还有 一样 可能 应当 必须 给予 予以 得到 没人 无人 无法
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
PLACE_SUFFIXES = ("社区", "街道", "小区", "居委会", "村委会", "区", "市", "省", "县", "镇", "乡", "村", "路", "街",
                  "巷", "号", "栋", "单元", "大道", "花园", "家园", "公寓", "大厦")
_NOT_WORD = re.compile(r"[\W\d_a-zA-Z]")


def _title_word(w: str) -> bool:
    if len(w) < 2 or w in STOP_WORDS or _NOT_WORD.search(w):
        return False
    return not w.endswith(PLACE_SUFFIXES)


def title(texts: list[list[str]], background: dict[str, float] | None = None, k: int = 3,
          place_names: Sequence[str] = ()) -> str:
    """The `k` most distinctive words of a hot spot's tickets (segmented), joined by " · ".

    `background` maps a word to the share of all tickets containing it; without it, the words most
    tickets share. Stop words, single characters, numbers and place words are skipped, and so are the
    pieces of `place_names` (天堂 of 天堂河, 河北 of 双河北里): a place's tickets all name it."""
    if not texts:
        return ""
    n = len(texts)
    df = Counter(w for words in texts for w in {x for x in words if _title_word(x)})
    for w in [w for w in df if any(w in name for name in place_names)]:
        del df[w]
    if not df:
        return ""
    scored = []
    min_df = 2 if n >= 3 else 1  # a word of one ticket names that ticket, not the problem
    for w, d in df.items():
        if d < min_df:
            continue
        share = d / n
        if background is not None:
            bg = background.get(w, 0.0)
            score = share * math.log((share + 1e-3) / (bg + 1e-3)) if share > bg else -1.0
        else:
            score = share
        scored.append((score, d, w))
    if not scored:
        return ""
    scored.sort(key=lambda x: (-x[0], -x[1], x[2]))
    chosen: list[str] = []
    for score, _d, w in scored:
        if score <= 0 and chosen:
            break
        if any(w in c or c in w for c in chosen):
            continue
        chosen.append(w)
        if len(chosen) == k:
            break
    return " · ".join(chosen)
