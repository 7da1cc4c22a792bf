"""The analysts' file interface: a CSV replayed as the clock would, bad rows named, one row per finding."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from jiesu.hotspots.files import OUTPUT_COLUMNS, BadRow, gazetteer, replay, replay_file

TZ = timezone(timedelta(hours=8))
START = datetime(2024, 3, 4, tzinfo=TZ)  # a Monday, clear of holidays
TEXTS = {
    "城乡建设": ["小区楼顶漏水，雨天家里天花板滴水", "小区道路破损，坑洼不平", "楼道灯坏了很久没人修"],
    "环境保护": ["工地夜间施工噪音扰民", "垃圾站臭味很大", "饭店油烟直排"],
    "交通运输": ["公交车站取消后出行不便", "路口红绿灯时间太短"],
}


def street_and_communities(n: int = 12) -> tuple[str, list[str]]:
    geo = gazetteer().geo
    street = next(i for i in range(len(geo.places)) if geo.level[i] == 1
                  and (geo.parent == i).sum() >= n)
    comms = [geo.places[i] for i in np.nonzero(geo.parent == street)[0][:n]]
    return geo.places[street], comms


def background(days: int = 50, per_day: int = 12, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    street, comms = street_and_communities()
    rows = []
    for d in range(days):
        for _ in range(rng.poisson(per_day)):
            cat = list(TEXTS)[rng.integers(3)]
            at = START + timedelta(days=d, hours=int(rng.integers(8, 20)), minutes=int(rng.integers(60)))
            rows.append({"created_at": at, "text": TEXTS[cat][rng.integers(len(TEXTS[cat]))], "category": cat,
                         "street_code": street, "community_code": comms[rng.integers(len(comms))],
                         "caller": f"c{rng.integers(10**6)}"})
    return rows


def numbered(rows: list[dict]) -> list[dict]:
    rows = sorted(rows, key=lambda r: r["created_at"])
    return [{**r, "number": f"N{i:05d}", "created_at": r["created_at"].isoformat()} for i, r in enumerate(rows)]


def test_a_burst_becomes_one_surge_row_detected_after_its_tickets():
    street, comms = street_and_communities()
    burst_at = START + timedelta(days=45, hours=9)
    burst = [{"created_at": burst_at + timedelta(minutes=12 * k), "text": "自来水管爆裂，整栋楼停水",
              "category": "城乡建设", "street_code": "", "community_code": comms[0], "caller": f"b{k}"}
             for k in range(9)]
    found = replay(numbered(background() + burst))
    surges = [f for f in found if f["kind"] == "surge"]
    assert len(surges) == 1, found
    s = surges[0]
    assert (s["community_code"], s["street_code"], s["category"], s["label"]) == (comms[0], street, "城乡建设", "surge")
    detected = datetime.fromisoformat(s["detected_at"])
    assert detected >= datetime.fromisoformat(s["last_at"]) and detected - burst_at <= timedelta(hours=3)
    assert int(s["tickets"]) >= 5 and len(s["numbers"].split()) == int(s["tickets"])
    assert "停水" in s["title"] or "爆裂" in s["title"] or "自来水管" in s["title"]
    assert not [f for f in found if f["kind"] == "hotspot"]


def test_a_hot_spot_raised_on_many_nights_is_one_row():
    _, comms = street_and_communities()
    rows = background()
    for d in range(29, 50):  # two more a day: with seven weeks of data only a strong problem stands out
        for h in (10, 15):
            rows.append({"created_at": START + timedelta(days=d, hours=h), "text": "小区楼顶漏水，雨天家里天花板滴水",
                         "category": "城乡建设", "street_code": "", "community_code": comms[1], "caller": f"h{d}{h}"})
    found = [f for f in replay(numbered(rows)) if f["kind"] == "hotspot"]
    assert [(f["community_code"], f["category"], f["label"]) for f in found] == [(comms[1], "城乡建设", "new")]
    f = found[0]
    assert datetime.fromisoformat(f["detected_at"]) >= datetime.fromisoformat(f["last_at"])
    assert datetime.fromisoformat(f["detected_at"]).time().hour == 0  # the nightly run at local midnight


def test_a_flat_file_raises_nothing_and_writes_the_header(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    rows = numbered(background(seed=3))
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert replay_file(src, out) == 0
    assert out.read_text(encoding="utf-8").strip().split(",") == list(OUTPUT_COLUMNS)


def test_empty_categories_are_classified_by_the_callable_given():
    rows = numbered(background(days=20))
    for r in rows[:5]:
        r["category"] = ""
    asked = []

    def classify(texts):
        asked.extend(texts)
        return ["环境保护"] * len(texts)

    replay(rows, classify)
    assert len(asked) == 5
    with pytest.raises(BadRow) as exc:
        replay(rows)
    assert exc.value.column == "category"


@pytest.mark.parametrize(("column", "value", "says"), [
    ("created_at", "2024-03-05 10:00", "no UTC offset"),
    ("created_at", "yesterday", "not an ISO 8601"),
    ("community_code", "123", "12-digit"),
    ("street_code", "110101001000", "lies in street"),
])
def test_a_bad_row_names_its_row_and_column(column, value, says):
    rows = numbered(background(days=3))
    if column == "street_code":
        rows[4]["street_code"] = "110101001000"  # 东华门街道, not the community's street
    rows[4][column] = value
    with pytest.raises(BadRow) as exc:
        replay(rows)
    assert (exc.value.row, exc.value.column) == (5, column)
    assert says in str(exc.value) and str(exc.value).startswith("row 5, column ")


def test_a_missing_column_is_a_clear_error(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("number,text\n1,漏水\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        replay_file(src, tmp_path / "out.csv")
