"""How fast the knowledge base answers: search latency with 100 k articles, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/knowledge.py [--n 100000] [--queries 500] [--engine sqlite|postgresql|both]

For each database (a fresh SQLite file in WAL mode, or a throwaway PostgreSQL from tests/pg.py) it seeds the
reference data and fills the knowledge base with `--n` published articles made from the corpus shipped in the
package: the questions are the titles (or first sentences) of the replied, labelled and hot messages, the
answers the official replies without their formulas (rules.answer_from_reply), each question paired with
several answers and placed in several of Beijing's districts (the corpus's anonymised places made that
district's, jiesu.data.teddy.localise): about 13,000 distinct questions and 2,400 distinct answers.
Each distinct text is segmented once; an article's words are its question's and answer's words plus its
district's and street's names.

It then times `jiesu.knowledge.service.search` (segmentation, the word counts, the database's ranked
query, loading the hits: what the API does for each request) for `--queries` caller texts: the first
sentences (up to 120 characters) of other messages of the corpus, localised, asked as an operator (all
live articles) and as an anonymous citizen (public ones only). Prints p50/p99/max per engine and caller,
the data size, the engine and the machine. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.pg and tests.conftest, run from anywhere

import sqlalchemy  # noqa: E402
from sqlalchemy import Engine, func, select, text  # noqa: E402

from jiesu.clock import SystemClock  # noqa: E402
from jiesu.config import Settings  # noqa: E402
from jiesu.data import read_csv  # noqa: E402
from jiesu.data.teddy import clean, localise, usable  # noqa: E402
from jiesu.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from jiesu.knowledge import rules  # noqa: E402
from jiesu.knowledge import service as kb  # noqa: E402
from jiesu.knowledge.models import Article  # noqa: E402
from jiesu.knowledge.rules import ArticleStatus  # noqa: E402
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor  # noqa: E402
from jiesu.places.models import Area, AreaLevel  # noqa: E402
from jiesu.routing.text import segment_many  # noqa: E402
from jiesu.units.models import Role  # noqa: E402

OPERATOR = Actor(username="bench-operator", role=Role.operator)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


# --- the corpus --------------------------------------------------------------------------------------

@dataclass
class Corpus:
    questions: list[str]  # distinct, anonymised places still in
    answers: list[str]
    queries: list[str]  # caller texts, anonymised


def load_corpus(seed: int) -> Corpus:
    questions, answers, queries = {}, {}, []
    for name, cols in (("messages_replied.csv", ("留言主题", "留言详情", "答复意见")),
                       ("messages_labelled.csv", ("留言主题", "留言详情", None)),
                       ("messages_hot.csv", ("留言主题", "留言详情", None))):
        for r in read_csv(f"teddy2020/{name}"):
            title, body = clean(r.get(cols[0])), clean(r.get(cols[1]))
            if not body or not usable(title, body):
                continue
            q = rules.question_from(title, body)
            if len(q) >= 6:
                questions.setdefault(q, None)
            if cols[2]:
                a = rules.answer_from_reply(clean(r[cols[2]]))
                if rules.substantive(a) and usable(a) and len(a) <= kb.MAX_ANSWER:
                    answers.setdefault(a, None)
            first = re.split(r"(?<=[。！？!?])", body, maxsplit=1)[0][:120]
            if len(first) >= 10:
                queries.append(first)
    rng = random.Random(seed)
    rng.shuffle(queries)
    return Corpus(list(questions), list(answers), queries)


# --- the databases -----------------------------------------------------------------------------------

@dataclass
class Database:
    engine_name: str
    url: str
    note: str
    stop: object = None

    def close(self) -> None:
        if self.stop:
            self.stop()


def sqlite_database(tmp: Path) -> Database:
    return Database("sqlite", f"sqlite:///{tmp / 'bench.db'}", "SQLite file, WAL, synchronous=NORMAL "
                    f"(the app's settings), SQLite {__import__('sqlite3').sqlite_version}")


def postgresql_database() -> Database:
    from tests import pg

    server = pg.start()
    version = subprocess.run([str(server.bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    return Database("postgresql", server.create_database("bench"),
                    f"PostgreSQL from tests/pg.py (fsync off: reads do not care), default shared_buffers; "
                    f"{version.strip()}", server.stop)


def fill(engine: Engine, corpus: Corpus, n: int, seed: int) -> float:
    """`n` published articles: question i of the corpus with several answers, in several districts. Returns
    the seconds it took (segmentation of the distinct texts included)."""
    started = time.perf_counter()
    sessions = make_sessionmaker(engine)
    with unit_of_work(sessions) as s:
        districts = list(s.scalars(select(Area).where(Area.level == AreaLevel.district).order_by(Area.code)))
        streets: dict[str, list[Area]] = {}
        for a in s.scalars(select(Area).where(Area.level == AreaLevel.street).order_by(Area.code)):
            streets.setdefault(a.district_code, []).append(a)
    q_terms = [rules.clean_terms(w) for w in segment_many(corpus.questions)]
    a_terms = [rules.clean_terms(w)[:rules.ANSWER_WORDS] for w in segment_many(corpus.answers)]
    place_terms = {a.name: rules.clean_terms(w) for a, w in zip(
        [*districts, *[x for v in streets.values() for x in v]],
        segment_many([a.name for a in [*districts, *[x for v in streets.values() for x in v]]]), strict=True)}
    rng = random.Random(seed)
    now = SystemClock().now()
    nq, na = len(corpus.questions), len(corpus.answers)
    rows = []
    with unit_of_work(sessions) as s:
        for i in range(n):
            qi, ai = i % nq, (i * 7919 + i // nq) % na
            d = districts[rng.randrange(len(districts))]
            st = rng.choice(streets.get(d.code) or [d])
            place = place_terms[d.name] + place_terms[st.name]
            rows.append({
                "question": localise(corpus.questions[qi], d.name, st.name)[:kb.MAX_QUESTION],
                "answer": localise(corpus.answers[ai], d.name, st.name),
                "area_id": d.id, "status": ArticleStatus.published, "public": rng.random() >= 0.1,
                "question_terms": rules.join_terms(q_terms[qi] + place), "answer_terms": rules.join_terms(a_terms[ai]),
                "source": "benchmark", "source_ref": None, "created_at": now, "created_by": "bench",
                "updated_at": now, "updated_by": "bench", "reviewed_at": now, "reviewed_by": "bench",
                "review_note": "", "version": 1})
            if len(rows) == 2000:
                s.execute(Article.__table__.insert(), rows)
                rows = []
        if rows:
            s.execute(Article.__table__.insert(), rows)
        kb.rebuild_index(s, SYSTEM)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE knowledge_articles"))
            c.execute(text("VACUUM ANALYZE knowledge_terms"))
    return time.perf_counter() - started


def data_size(engine: Engine) -> str:
    with engine.connect() as c:
        articles = c.scalar(select(func.count()).select_from(Article))
        terms = c.scalar(text("SELECT count(*) FROM knowledge_terms"))
        if engine.dialect.name == "postgresql":
            size = c.scalar(text("SELECT pg_total_relation_size('knowledge_articles')"))
            index = c.scalar(text("SELECT pg_relation_size('ix_knowledge_articles_search_vector')"))
            where = f"knowledge_articles {size / 2**20:.0f} MB with its indexes, GIN index {index / 2**20:.0f} MB"
        else:
            path = engine.url.database
            where = f"database file {os.path.getsize(path) / 2**20:.0f} MB"
            fts = c.scalar(text("SELECT sum(length(block)) FROM knowledge_fts_data"))
            where += f", FTS5 index {fts / 2**20:.0f} MB"
    return f"{articles} articles, {terms} distinct words; {where}"


def run(engine: Engine, corpus: Corpus, queries: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed + 1)
    settings = Settings(secret_key="bench", database_url="sqlite://")
    clock = SystemClock()
    districts = ["朝阳区", "海淀区", "大兴区", "昌平区", "东城区", "西城区"]
    asked = [localise(q, rng.choice(districts), "八里庄街道") for q in corpus.queries[:queries]]
    sessions = make_sessionmaker(engine)
    out: dict[str, list[float]] = {"operator": [], "citizen": []}
    found = {"operator": 0, "citizen": 0}
    for who, actor in (("operator", OPERATOR), ("citizen", ANONYMOUS)):
        with unit_of_work(sessions) as s:
            for q in asked[:20]:  # warm-up: the connection, the statement cache, the database's pages
                kb.search(s, actor, clock, settings, q)
            for q in asked:
                t0 = time.perf_counter()
                result = kb.search(s, actor, clock, settings, q, limit=5)
                out[who].append(time.perf_counter() - t0)
                found[who] += bool(result.hits)
    out["found"] = found  # type: ignore[assignment]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="articles in the knowledge base")
    ap.add_argument("--queries", type=int, default=500, help="searches timed per caller")
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"benchmarks/knowledge.py, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start; Python {platform.python_version()}, "
          f"SQLAlchemy {sqlalchemy.__version__}")
    t0 = time.perf_counter()
    corpus = load_corpus(args.seed)
    print(f"corpus: {len(corpus.questions)} distinct questions, {len(corpus.answers)} distinct answers, "
          f"{len(corpus.queries)} caller texts ({time.perf_counter() - t0:.1f} s to read)")
    from tests.conftest import seed_reference_data

    tmp = Path(tempfile.mkdtemp(prefix="jiesu-bench-kb-"))
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    try:
        for name in engines:
            db = sqlite_database(tmp) if name == "sqlite" else postgresql_database()
            engine = make_engine(db.url)
            try:
                seed_reference_data(engine)
                seconds = fill(engine, corpus, args.n, args.seed)
                r = run(engine, corpus, args.queries, args.seed)
                print(f"\n== {name}: {db.note}")
                print(f"   data: {data_size(engine)}; filled in {seconds:.0f} s")
                for who in ("operator", "citizen"):
                    lat = r[who]
                    print(f"   search as {who:<8} ({len(lat)} caller texts, {r['found'][who]} with hits, top 5): "
                          f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
                          f"max {max(lat) * 1000:.1f} ms")
            finally:
                engine.dispose()
                db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
