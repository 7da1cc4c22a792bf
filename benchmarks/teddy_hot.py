"""The 2020 Teddy Cup problem C, question 2 (热点问题挖掘): the top five hot problems among the messages
with likes, in the contest's shape, with the heat index's formula stated.

    .venv/bin/python benchmarks/teddy_hot.py                    # ../shared/data/teddy2020/messages_hot.csv
    .venv/bin/python benchmarks/teddy_hot.py --input F.csv --top 10 --details

Problems: messages are segmented (jiesu.routing.text.segment); one user's near-identical repeats
within 30 days (Jaccard >= 0.75 of their word sets) count once (jiesu.hotspots.detect.repeats); two
messages are the same problem when they name the same specific place (a 小区, road, school,
company... not just "A市" or a district) and their TF-IDF cosine is >= 0.3, or when it is >= 0.5
and they do not name two different places, or >= 0.75 whatever they name; problems are the
connected components of that graph with at least 3 messages.

Heat index (0-100), for a problem with n messages (after repeats) from u distinct users, L likes and
D dislikes in total, over a span of s days:

    H = 100 × (0.4·f(n) + 0.2·f(u) + 0.25·f(L + D) + 0.15·f(n / max(s/7, 1)))
    f(x) = ln(1 + x) / ln(1 + max over problems of x)

volume and its breadth (how many people), engagement (likes and dislikes both show attention), and
the rate (messages a week over its span) so a burst outranks the same count spread over a year.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jiesu.data import read_csv  # noqa: E402
from jiesu.hotspots.detect import STOP_WORDS, repeats  # noqa: E402
from jiesu.routing.text import segment_many  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "teddy2020" / "messages_hot.csv"
PLACE_END = ("小区", "花园", "家园", "公寓", "大厦", "广场", "村", "路", "街", "大道", "镇", "乡", "学校", "中学",
             "小学", "幼儿园", "学院", "大学", "医院", "公司", "市场", "公园", "苑", "城", "府", "湾", "园", "站",
             "社区", "街道", "高速", "大桥", "项目", "楼盘", "工地", "酒店", "商场", "宾馆")
GENERIC_PLACE = re.compile(
    r"^[A-Z]\d*[市区县]|政府|^有限公司$|^[^A-Z]?(幼儿园|小学|中学|医院|学校|公司|市场|公园|小区|社区)$")
PLACE_TOKEN = re.compile(r"[A-Z]\d*[市区县]")
SIMILAR = 0.5
SIMILAR_ANY_PLACE = 0.75
SIMILAR_SAME_PLACE = 0.3
MIN_MESSAGES = 3


def load(path: Path | None) -> list[dict]:
    if path is not None:
        return read_csv(path, required=("留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "反对数", "点赞数"))
    if SHARED.exists():
        return read_csv(SHARED)
    return read_csv("teddy2020/messages_hot.csv")


def parse_time(s: str) -> datetime:
    s = s.strip()
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=UTC)  # wall time, kept as is
        except ValueError:
            continue
    t = datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def places_in(words: list[str]) -> set[str]:
    """Specific place words: long enough, ending like a place, not just a city or a district."""
    out = set()
    for w in words:
        end = next((e for e in PLACE_END if w.endswith(e)), None)
        if end and len(w) >= len(end) + 2 and not GENERIC_PLACE.search(w):
            out.add(w)
    return out


def cluster(rows: list[dict]) -> tuple[list[list[int]], list[list[str]], np.ndarray]:
    titles = [r["留言主题"] for r in rows]
    title_words = segment_many(titles)
    body_words = segment_many([r["留言详情"][:300] for r in rows])
    words = [[w for w in t + b if len(w) >= 2 and w not in STOP_WORDS and not PLACE_TOKEN.fullmatch(w)]
             for t, b in zip(title_words, body_words, strict=True)]
    at = np.array([parse_time(r["留言时间"]).timestamp() for r in rows])
    drop = repeats(np.array([r["留言用户"] for r in rows], dtype=object), np.zeros(len(rows), np.int64), at,
                   [frozenset(w) for w in words])
    # titles say what the problem is: weigh their words twice
    docs = [" ".join(t + t + b) for t, b in zip(
        [[w for w in x if len(w) >= 2 and w not in STOP_WORDS] for x in title_words], words, strict=True)]
    x = TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, sublinear_tf=True,
                        min_df=1).fit_transform(docs)
    sim = (x @ x.T).tocsr()
    place = [places_in(t + b) | ({h} if (h := headline_place(r["留言主题"])) else set())
             for t, b, r in zip(title_words, body_words, rows, strict=True)]
    keep = ~drop
    coo = sim.tocoo()
    m = (coo.row < coo.col) & keep[coo.row] & keep[coo.col]
    r, c, v = coo.row[m], coo.col[m], coo.data[m]
    edge = v >= SIMILAR_ANY_PLACE
    for i in np.nonzero((~edge) & (v >= SIMILAR_SAME_PLACE))[0]:
        a, b = place[r[i]], place[c[i]]
        # the same words about two different estates are two problems
        edge[i] = bool(a & b) or (v[i] >= SIMILAR and not (a and b))
    g = coo_matrix((np.ones(int(edge.sum())), (r[edge], c[edge])), shape=(len(rows), len(rows)))
    _, label = connected_components(g, directed=False)
    groups: dict[int, list[int]] = {}
    for i in np.nonzero(keep)[0]:
        groups.setdefault(int(label[i]), []).append(int(i))
    problems = [g for g in groups.values() if len(g) >= MIN_MESSAGES]
    return problems, [sorted(place[i]) for i in range(len(rows))], at


def heat(rows: list[dict], problems: list[list[int]], at: np.ndarray) -> np.ndarray:
    n = np.array([len(p) for p in problems], dtype=float)
    users = np.array([len({rows[i]["留言用户"] for i in p}) for p in problems], dtype=float)
    votes = np.array([sum(int(rows[i]["点赞数"] or 0) + int(rows[i]["反对数"] or 0) for i in p) for p in problems],
                     dtype=float)
    span = np.array([(at[p].max() - at[p].min()) / 86400 for p in problems])
    rate = n / np.maximum(span / 7, 1)

    def f(v: np.ndarray) -> np.ndarray:
        return np.log1p(v) / np.log1p(v.max()) if v.max() > 0 else np.zeros_like(v)

    return 100 * (0.4 * f(n) + 0.2 * f(users) + 0.25 * f(votes) + 0.15 * f(rate))


def describe(rows: list[dict], p: list[int], places: list[list[str]]) -> tuple[str, str]:
    """(地点/人群, 问题描述): the place most of its messages name, and its most-voted message's title."""
    best = max(p, key=lambda i: (int(rows[i]["点赞数"] or 0) + int(rows[i]["反对数"] or 0), -i))
    head = rows[best]["留言主题"]
    cnt = Counter(w for i in p for w in places[i])
    area = Counter(m for i in p for m in PLACE_TOKEN.findall(rows[i]["留言主题"] + rows[i]["留言详情"][:100]))
    area_s = area.most_common(1)[0][0] if area else "A市"
    named = Counter(x for i in p if (x := headline_place(rows[i]["留言主题"])))
    if named:  # the place most headlines name
        return f"{area_s}{named.most_common(1)[0][0]}", head.strip()
    if cnt:
        return f"{area_s}{cnt.most_common(1)[0][0]}", head.strip()
    return area_s, head.strip()


LEAD = re.compile(r"^(关于|投诉|反映|举报|建议|请求|咨询|坚决|反对|强烈|要求|请问|希望|严惩|[A-Z]\d*[市区县])+")
HEAD_PLACE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{1,10}?(?:小区|花园|家园|公寓|大厦|广场|村|路|街|大道|镇|"
                        r"中学|小学|幼儿园|学院|大学|医院|公司|市场|公园|苑|城|府|湾|园|站|社区|街道)")


def headline_place(head: str) -> str | None:
    """The first place a headline names, e.g. "伊景园" in "坚决反对伊景园滨河苑强制捆绑销售车位"."""
    m = HEAD_PLACE.search(LEAD.sub("", head.strip()))
    return m.group(0) if m and len(m.group(0)) >= 3 else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Teddy Cup 2020 C2: top hot problems")
    ap.add_argument("--input", type=Path, default=None)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--details", action="store_true", help="also print each problem's messages")
    args = ap.parse_args(argv)
    rows = load(args.input)
    problems, places, at = cluster(rows)
    h = heat(rows, problems, at)
    order = np.argsort(-h)[: args.top]
    print(f"{len(rows)} messages, {len(problems)} problems of at least {MIN_MESSAGES} messages")
    print("heat index H = 100 × (0.4·f(n) + 0.2·f(users) + 0.25·f(likes + dislikes)"
          " + 0.15·f(n / max(span days / 7, 1))),")
    print("f(x) = ln(1 + x) / ln(1 + max over problems of x); n = messages, one user's repeats counted once\n")
    print("| 热度排名 | 问题ID | 热度指数 | 时间范围 | 地点/人群 | 问题描述 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rank, j in enumerate(order, start=1):
        p = problems[j]
        lo, hi = (datetime.fromtimestamp(x, UTC) for x in (at[p].min(), at[p].max()))
        where, what = describe(rows, p, places)
        print(f"| {rank} | {rank} | {h[j]:.2f} | {lo:%Y/%m/%d} 至 {hi:%Y/%m/%d} | {where} | {what} |")
    if args.details:
        print("\n| 问题ID | 留言编号 | 留言用户 | 留言主题 | 留言时间 | 点赞数 | 反对数 |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for rank, j in enumerate(order, start=1):
            for i in sorted(problems[j], key=lambda i: at[i]):
                r = rows[i]
                print(f"| {rank} | {r['留言编号']} | {r['留言用户']} | {r['留言主题']} | {r['留言时间']} "
                      f"| {r['点赞数']} | {r['反对数']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
