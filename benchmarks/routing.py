"""How good and how fast smart dispatch is: the category classifier's macro-F1 on held-out rows, batch
throughput on one core, single-suggestion latency; the place-resolution rate (PLACE_REPORT).

    .venv/bin/python benchmarks/routing.py [--holdout 0.2] [--seed 0] [--single 1000]

See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import os

# One core: set before numpy/scipy load their BLAS, and again with threadpoolctl below.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jiesu.config import Settings  # noqa: E402
from jiesu.data import read_csv  # noqa: E402
from jiesu.routing import classifier, text  # noqa: E402

# The place-resolution part (jiesu/places/ resolve rate on the corpus) goes here: a function that returns the
# lines to print, e.g. "place resolved for 71.3 % of 1267 messages (ambiguous 4.1 %)". None: not measured yet.


def place_rate() -> list[str]:
    """The place-resolution rate on addresses built from the real gazetteer (jiesu.places.addresses), on a
    fresh SQLite database with Beijing imported."""
    from jiesu import migrate
    from jiesu.db import make_engine, make_sessionmaker, unit_of_work
    from jiesu.permissions import SYSTEM
    from jiesu.places import service as places
    from jiesu.places.addresses import place_report

    with tempfile.TemporaryDirectory(prefix="jiesu-bench-") as var:
        engine = make_engine(f"sqlite:///{var}/places.db")
        migrate.upgrade(engine)
        with unit_of_work(make_sessionmaker(engine)) as session:
            places.import_gazetteer(session, SYSTEM)
        with unit_of_work(make_sessionmaker(engine)) as session:
            lines = place_report(session)
        engine.dispose()
    return lines


PLACE_REPORT: Callable[[], list[str]] | None = place_rate


def machine() -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, load average {load} at the start; "
            f"Python {platform.python_version()}, scikit-learn {classifier_sklearn()}, numpy {np.__version__}")


def classifier_sklearn() -> str:
    import sklearn

    return sklearn.__version__


def classifier_report(*, holdout: float = 0.2, seed: int = 0, single: int = 1000) -> list[str]:
    """Macro-F1 on a stratified held-out split, batch messages/s and single-suggestion latency on one core."""
    lines = []
    with tempfile.TemporaryDirectory(prefix="jiesu-bench-") as var:
        text.set_cache_dir(Path(var) / "cache")
        started = time.perf_counter()
        result = classifier.train(Settings(var_dir=Path(var)), holdout=holdout, seed=seed, save=False)
        took = time.perf_counter() - started
    r, meta = result.report, result.model.meta
    lines.append(f"model: {meta['model']}; trained in {took:.1f} s (the held-out fit and the refit on all rows)")
    lines.append(f"data: {meta['corpus']} ({meta['rows']} rows), stratified {holdout:.0%} held out with seed {seed}: "
                 f"fitted on {result.train_rows}, tested on {result.holdout_rows}")
    lines.append(f"macro-F1 {r.macro_f1:.4f}, accuracy {r.accuracy:.4f}, mean confidence {r.mean_confidence:.4f} "
                 "(of the model fitted without the held-out rows)")
    lines.append("per class F1: " + ", ".join(f"{c} {f:.3f}" for c, f in zip(r.labels, r.f1, strict=True)))

    model = result.model
    rows = [row for name in ("teddy2020/messages_labelled.csv", *classifier.UNLABELLED) for row in read_csv(name)]
    titles = [row.get("留言主题", "") for row in rows]
    texts = [row.get("留言详情", "") for row in rows]
    chars = sum(len(t) + len(x) for t, x in zip(titles, texts, strict=True))
    with threadpool_limits(limits=1):
        model.predict_many(titles[:200], texts[:200])  # warm up
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            model.predict_many(titles, texts)
            best = min(best, time.perf_counter() - t0)
        lines.append(f"batch: predict_many over {len(rows)} messages ({chars / len(rows):.0f} characters on average, "
                     f"all shipped messages), one thread, best of 3: {len(rows) / best:,.0f} messages/s")

        model.predict_one(texts[0], title=titles[0])  # jieba's dictionary loads on the first call
        picks = np.random.default_rng(seed).choice(len(rows), size=min(single, len(rows)), replace=False)
        with_reasons, without = [], []
        for i in picks:
            t0 = time.perf_counter()
            model.predict_one(texts[i], title=titles[i])
            with_reasons.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            model.predict_many([titles[i]], [texts[i]])
            without.append(time.perf_counter() - t0)
    ms = lambda xs, q: 1000 * float(np.percentile(xs, q))  # noqa: E731
    lines.append(f"single: predict_one (category, confidence, alternatives, reasons via jieba) over {len(picks)} "
                 f"messages: p50 {ms(with_reasons, 50):.2f} ms, p99 {ms(with_reasons, 99):.2f} ms, "
                 f"max {ms(with_reasons, 100):.2f} ms")
    lines.append(f"single without reasons: p50 {ms(without, 50):.2f} ms, p99 {ms(without, 99):.2f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holdout", type=float, default=0.2, help="share held out for macro-F1 (stratified)")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed (and the single-message sample's)")
    parser.add_argument("--single", type=int, default=1000, help="messages timed one at a time (>= 500)")
    args = parser.parse_args()
    print(f"benchmarks/routing.py, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {machine()}")
    print("\n== category classifier")
    for line in classifier_report(holdout=args.holdout, seed=args.seed, single=max(500, args.single)):
        print("   " + line, flush=True)
    print("\n== place resolution")
    if PLACE_REPORT is None:
        print("   not measured yet (PLACE_REPORT is None)")
    else:
        for line in PLACE_REPORT():
            print("   " + line)


if __name__ == "__main__":
    main()
