"""Hot spots and surges: injected problems in a year of realistic traffic, found through the file replay.

    .venv/bin/python benchmarks/hotspots.py                 # 300,000 tickets, 12 hot spots, 12 surges
    .venv/bin/python benchmarks/hotspots.py --quick         # 60,000 tickets: a minute
    .venv/bin/python benchmarks/hotspots.py --tickets 1000000 --seed 3

Background: real messages (附件2, messages_labelled) with their first-level categories; places: streets
weighted by how many communities they have (a population proxy), a community in four of five tickets;
each street's category mix varies a little (log-normal, sigma 0.25) as real places do; days follow
the business calendar (workday 1, weekend 0.55, holiday 0.45, make-up workdays are workdays) and a mild
season; hours follow an office-hours profile; one ticket in twenty is a caller's near-identical repeat
within days. Injected: hot spots (a community, a category, an onset day, 1.5-4 extra tickets a week
from then on, texts from a handful of messages of that category, as one problem reads) and surges
(a community or street, a category, an onset hour, 8-20 tickets over 2-6 hours).

Printed: precision and recall of what the replay raised against what was injected (a raised row
matches an injection of the same kind, category and place, detected after the onset), the delay
from onset to detection, false alarms a month on the same traffic with nothing injected, and the
time to mine 1 M tickets (cube + one nightly mining + one hourly scan) and to replay the file.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jiesu.data import read_csv  # noqa: E402
from jiesu.hotspots.detect import HotSpotMiner, SurgeScanner  # noqa: E402
from jiesu.hotspots.files import LOCAL_OFFSET_S, _cube, day_types, gazetteer, replay_file  # noqa: E402

START = date(2023, 1, 1)
DAYS = 365
EPOCH = date(1970, 1, 1)
HOUR_PROFILE = np.array([1, 0.5, 0.3, 0.3, 0.3, 0.5, 1.5, 4, 8, 10, 10, 9, 6, 7, 9, 9, 8, 7, 5, 4, 3.5, 3, 2, 1.5])


@dataclass
class Injection:
    kind: str  # hotspot | surge
    place: str  # 12-digit code
    level: int  # 0 community, 1 street
    category: str
    onset: float  # UTC seconds
    strength: float  # extra tickets a week (hot spot) / tickets in the burst (surge)
    hours: int = 0  # surge length


def corpus() -> tuple[list[str], list[str]]:
    rows = read_csv("teddy2020/messages_labelled.csv")
    return [r["留言主题"] + "。" + r["留言详情"] for r in rows], [r["一级标签"] for r in rows]


def calendar_weights(rng: np.random.Generator) -> np.ndarray:
    first = (START - EPOCH).days
    kinds = day_types(first, first + DAYS - 1).kind
    w = np.where(kinds == 0, 1.0, np.where(kinds == 1, 0.55, 0.45))
    season = 1 + 0.15 * np.sin(2 * np.pi * (np.arange(DAYS) - 20) / 365)  # winter heating, summer rain
    return w * season


def generate(n: int, seed: int, n_hot: int, n_surge: int, inject: bool = True):
    """(rows, injections): a year of tickets as input-CSV dicts, time-ordered."""
    rng = np.random.default_rng(seed)
    gz = gazetteer()
    geo = gz.geo
    texts, labels = corpus()
    cats = sorted(set(labels))
    by_cat = {c: [i for i, x in enumerate(labels) if x == c] for c in cats}
    cat_p = np.array([len(by_cat[c]) for c in cats], dtype=float)
    cat_p /= cat_p.sum()
    streets = np.nonzero(geo.level == 1)[0]
    comms = np.nonzero(geo.level == 0)[0]
    comm_of = {s: comms[geo.parent[comms] == s] for s in streets}
    weight = np.array([max(1, len(comm_of[s])) for s in streets], dtype=float)
    streets, weight = streets[weight > 0], weight[weight > 0]
    p_street = weight / weight.sum()
    mix = cat_p[None, :] * rng.lognormal(0, 0.25, size=(len(streets), len(cats)))
    mix /= mix.sum(1, keepdims=True)
    day_w = calendar_weights(rng)
    first_day = (START - EPOCH).days

    def times(k: int) -> np.ndarray:
        d = rng.choice(DAYS, size=k, p=day_w / day_w.sum())
        h = rng.choice(24, size=k, p=HOUR_PROFILE / HOUR_PROFILE.sum())
        return ((first_day + d) * 86400 + h * 3600 + rng.uniform(0, 3600, k) - LOCAL_OFFSET_S)

    si = rng.choice(len(streets), size=n, p=p_street)
    u = rng.random(n)
    ci = (mix[si].cumsum(1) < u[:, None]).sum(1).clip(0, len(cats) - 1)
    at = times(n)
    rows: list[tuple[float, str, str, str, str, str]] = []  # at, text, cat, street, comm, caller
    for j in range(n):
        s = streets[si[j]]
        cs = comm_of[s]
        comm = geo.places[int(rng.choice(cs))] if len(cs) and rng.random() < 0.8 else ""
        c = cats[ci[j]]
        t = texts[by_cat[c][rng.integers(len(by_cat[c]))]]
        rows.append((float(at[j]), t, c, geo.places[int(s)], comm, f"u{rng.integers(10**9)}"))
    # a caller's near-identical repeats within days
    for j in rng.choice(n, size=n // 20, replace=False):
        a, t, c, s, comm, caller = rows[j]
        rows.append((a + rng.uniform(3600, 10 * 86400), t, c, s, comm, caller))

    injections: list[Injection] = []
    if inject:
        end = (first_day + DAYS) * 86400 - LOCAL_OFFSET_S
        for _ in range(n_hot):
            s = streets[rng.choice(len(streets), p=p_street)]
            comm = rng.choice(comm_of[s])
            c = cats[rng.integers(len(cats))]
            onset_day = int(rng.integers(60, DAYS - 56))
            onset = float((first_day + onset_day) * 86400 - LOCAL_OFFSET_S)
            per_week = float(rng.uniform(1.5, 4.0))
            k = rng.poisson(per_week * (end - onset) / (7 * 86400))
            topic = [by_cat[c][i] for i in rng.choice(len(by_cat[c]), size=5, replace=False)]
            for a in np.sort(rng.uniform(onset, end, k)):
                rows.append((float(a), texts[int(rng.choice(topic))], c, geo.places[int(s)],
                             geo.places[int(comm)], f"u{rng.integers(10**9)}"))
            injections.append(Injection("hotspot", geo.places[int(comm)], 0, c, onset, per_week))
        for _ in range(n_surge):
            s = streets[rng.choice(len(streets), p=p_street)]
            at_street = rng.random() < 0.3
            place = s if at_street else rng.choice(comm_of[s])
            c = cats[rng.integers(len(cats))]
            onset_day = int(rng.integers(30, DAYS - 2))
            onset = float((first_day + onset_day) * 86400 + rng.integers(7, 20) * 3600 - LOCAL_OFFSET_S)
            hours = int(rng.integers(2, 7))
            k = int(rng.integers(8, 21))
            topic = by_cat[c][rng.integers(len(by_cat[c]))]
            for a in np.sort(rng.uniform(onset, onset + hours * 3600, k)):
                comm = "" if at_street else geo.places[int(place)]
                if at_street and len(comm_of[s]) and rng.random() < 0.5:
                    comm = geo.places[int(rng.choice(comm_of[s]))]  # half of a street's callers name a community
                rows.append((float(a), texts[topic], c, geo.places[int(s)], comm, f"u{rng.integers(10**9)}"))
            injections.append(Injection("surge", geo.places[int(place)], 1 if at_street else 0, c, onset, k, hours))
    rows.sort(key=lambda r: r[0])
    from datetime import datetime, timezone

    tz = timezone(timedelta(hours=8))
    out = [{"number": f"T{i:07d}", "created_at": datetime.fromtimestamp(r[0], tz).isoformat(timespec="seconds"),
            "text": r[1], "category": r[2], "street_code": r[3], "community_code": r[4], "caller": r[5]}
           for i, r in enumerate(rows)]
    return out, injections


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def read_found(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _secs(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def score(found: list[dict], injections: list[Injection]) -> dict:
    """Match raised rows to injections: same kind and category, the injected place named (a community's
    hot spot raised at that community; a street's surge at that street or one of its communities)."""
    gz = gazetteer()
    matched_rows = set()
    delays: dict[str, list[float]] = {"hotspot": [], "surge": []}
    hit = {"hotspot": 0, "surge": 0}
    total = {"hotspot": 0, "surge": 0}
    for inj in injections:
        total[inj.kind] += 1
        best = None
        for i, r in enumerate(found):
            if r["kind"] != inj.kind or r["category"] != inj.category:
                continue
            det = _secs(r["detected_at"])
            if det < inj.onset:
                continue
            if inj.kind == "surge" and det > inj.onset + 7 * 86400:
                continue
            ok = r["community_code"] == inj.place if inj.level == 0 else r["street_code"] == inj.place
            if inj.kind == "surge" and inj.level == 0 and not ok:
                # a community's burst raised at its street (tickets naming only the street) still finds it
                street = gz.geo.places[int(gz.geo.parent[gz.index[inj.place]])]
                ok = r["street_code"] == street and r["community_code"] == ""
            if ok:
                matched_rows.add(i)
                if best is None or det < best:
                    best = det
        if best is not None:
            hit[inj.kind] += 1
            delays[inj.kind].append((best - inj.onset) / (3600 if inj.kind == "surge" else 86400))
    out = {}
    for kind in ("hotspot", "surge"):
        rows = [i for i, r in enumerate(found) if r["kind"] == kind]
        tp = len([i for i in rows if i in matched_rows])
        out[kind] = {
            "raised": len(rows), "true": tp, "injected": total[kind], "found": hit[kind],
            "precision": tp / len(rows) if rows else float("nan"),
            "recall": hit[kind] / total[kind] if total[kind] else float("nan"),
            "delay": delays[kind],
        }
    return out


def time_mining(n: int, seed: int) -> dict:
    """Cube build + one nightly mining + one hourly scan on n tickets (no texts: the cube is numbers)."""
    rng = np.random.default_rng(seed)
    geo = gazetteer().geo
    comms = np.nonzero(geo.level == 0)[0]
    first = (START - EPOCH).days
    place = rng.choice(comms, size=n)
    cat = rng.integers(0, 7, size=n)
    hour = first * 24 + rng.integers(0, DAYS * 24, size=n)
    t0 = time.perf_counter()
    day_cells = _cube(place, cat, hour // 24)
    hour_cells = _cube(place, cat, hour)
    t1 = time.perf_counter()
    miner = HotSpotMiner(day_cells, geo)
    miner.mine(first + DAYS - 1)
    t2 = time.perf_counter()
    days = day_types(first - 1, first + DAYS + 2)
    t3 = time.perf_counter()
    SurgeScanner(hour_cells, geo, days).scan_hour(int(hour.max()))
    t4 = time.perf_counter()
    return {"cube": t1 - t0, "mine": t2 - t1, "scan": t4 - t3, "cells": len(day_cells.n) + len(hour_cells.n),
            "total": (t1 - t0) + (t2 - t1) + (t4 - t3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=300_000, help="background tickets in the year")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hot", type=int, default=12, help="hot spots injected")
    ap.add_argument("--surges", type=int, default=12, help="surges injected")
    ap.add_argument("--quick", action="store_true", help="60,000 tickets, 1 M timing skipped")
    ap.add_argument("--timing", type=int, default=1_000_000, help="tickets for the mining time")
    args = ap.parse_args(argv)
    n = 60_000 if args.quick else args.tickets
    print(f"# hot spots and surges: {n:,} background tickets over {DAYS} days from {START}, seed {args.seed}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.processor() or platform.platform()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        results = {}
        for label, inject in (("injected", True), ("background only", False)):
            t0 = time.perf_counter()
            rows, injections = generate(n, args.seed, args.hot, args.surges, inject)
            gen = time.perf_counter() - t0
            write_csv(rows, tmp_p / "in.csv")
            t0 = time.perf_counter()
            replay_file(tmp_p / "in.csv", tmp_p / "out.csv")
            rep = time.perf_counter() - t0
            found = read_found(tmp_p / "out.csv")
            results[label] = (rows, injections, found, gen, rep)
            print(f"\n## {label}: {len(rows):,} tickets (generated in {gen:.1f} s), replayed in {rep:.1f} s "
                  f"({len(rows) / rep:,.0f} tickets/s), {len(found)} rows raised")
        rows, injections, found, _, _ = results["injected"]
        s = score(found, injections)
        print("\n| kind | injected | found | recall | raised | true | precision | delay median | delay max |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for kind, unit in (("hotspot", "days"), ("surge", "hours")):
            r = s[kind]
            d = r["delay"]
            med = f"{np.median(d):.1f} {unit}" if d else "-"
            mx = f"{max(d):.1f} {unit}" if d else "-"
            print(f"| {kind} | {r['injected']} | {r['found']} | {r['recall']:.2f} | {r['raised']} | {r['true']} "
                  f"| {r['precision']:.2f} | {med} | {mx} |")
        if s["surge"]["delay"]:
            within = np.mean(np.array(s["surge"]["delay"]) <= 3)
            print(f"\nsurges found within 3 hours of onset: {within:.0%}; within a day: "
                  f"{np.mean(np.array(s['surge']['delay']) <= 24):.0%}")
        missed = [i for i in injections if not any(
            f["kind"] == i.kind and f["category"] == i.category and i.place in (f["community_code"], f["street_code"])
            for f in found)]
        for i in missed:
            print(f"missed: {i.kind} {i.place} {i.category} strength {i.strength:.1f}")
        _, _, quiet, _, _ = results["background only"]
        months = DAYS / 30.4
        by_kind = {k: sum(1 for r in quiet if r["kind"] == k) for k in ("hotspot", "surge")}
        print(f"\nfalse alarms on background only: {len(quiet)} in {months:.0f} months = "
              f"{len(quiet) / months:.2f} a month (hot spots {by_kind['hotspot']}, surges {by_kind['surge']})")
        for r in quiet[:10]:
            print(f"  {r['kind']} {r['label']} {r['community_code'] or r['street_code']} {r['category']} "
                  f"tickets {r['tickets']} score {r['score']} {r['detected_at']}")
        for r in [f for f in found if f["kind"] == "hotspot"][:5]:
            print(f"  e.g. {r['label']} {r['community_code']} {r['category']} {r['tickets']} tickets: {r['title']}")
    if not args.quick:
        t = time_mining(args.timing, args.seed)
        print(f"\ntime to mine {args.timing:,} tickets ({t['cells']:,} day+hour cells): cube {t['cube']:.2f} s, "
              f"nightly mining {t['mine']:.2f} s, hourly surge scan {t['scan']:.2f} s, total {t['total']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
