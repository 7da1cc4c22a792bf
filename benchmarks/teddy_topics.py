"""The topic of the month's candidates on real messages: the Teddy Cup 2020 labelled messages (附件2, shipped in
jiesu/data/teddy2020) of their last twelve months, each with its first-level label, its words (routing's
segmentation and tokens) and its area (the first "A3区"-style name in its text): rules.rank_topics as
`jiesu topics rank` ranks the tickets' (no callbacks in that corpus, so dissatisfaction counts 0).

    .venv/bin/python benchmarks/teddy_topics.py
"""

from __future__ import annotations

import re
import time

import numpy as np

from jiesu.data import read_csv
from jiesu.hotspots import rules
from jiesu.routing.rules import tokens_of
from jiesu.routing.text import segment_many

AREA = re.compile(r"[A-Z]\d+[区县市]")


def main() -> None:
    rows = [r for r in read_csv("teddy2020/messages_labelled.csv") if (r["留言时间"] or "").strip()]
    cats = sorted({r["一级标签"] for r in rows})
    days = [r["留言时间"].strip().split(" ")[0].replace("-", "/").split("/") for r in rows]  # local dates
    month = np.array([int(y) * 12 + int(m) - 1 for y, m, _ in days])
    last = int(month.max())
    kept = np.nonzero(month > last - 12)[0]
    texts = [(rows[i]["留言主题"] or "") + " " + (rows[i]["留言详情"] or "") for i in kept]
    t0 = time.perf_counter()
    words = segment_many(texts)
    cut = time.perf_counter() - t0
    areas = [m.group(0) if (m := AREA.search(t)) else "" for t in texts]
    codes = {a: i for i, a in enumerate(sorted(set(areas) - {""}))}
    place = np.array([codes.get(a, -1) for a in areas], np.int32)
    facts = rules.TicketFacts(
        category=np.array([cats.index(rows[i]["一级标签"]) for i in kept], np.int32), street=place, district=place,
        month=(month[kept] - (last - 11)).astype(np.int32), reached=np.zeros(len(kept), np.int32),
        unsatisfied=np.zeros(len(kept), np.int32), terms=[frozenset(tokens_of(w)) for w in words])
    t0 = time.perf_counter()
    ranked = rules.rank_topics(facts, len(cats), len(codes), len(codes), 12, exclude=set(cats))
    took = time.perf_counter() - t0
    print(f"{len(kept)} messages of the 12 months to {last // 12}-{last % 12 + 1:02d}, {len(codes)} areas; "
          f"segmented in {cut:.1f} s, ranked in {took:.3f} s")
    for i, c in enumerate(ranked[:12], start=1):
        print(f"{i:2d}. {cats[c.category]} · {'、'.join(c.keyword.split())}: score {c.score}, {c.tickets} messages, "
              f"{c.districts} areas, evenness {c.evenness:.2f}, {c.months_present}/12 months")
    print(rules.SCORE_FORMULA)


if __name__ == "__main__":
    main()
