"""Proactive governance (主动治理) in Debian's Chromium against `jiesu serve` on a copy of the demo city: a year of
history brought in with `jiesu tickets import` (天堂河社区's leaks, high for a year, lower since its renovation
began three months ago, beside comparable communities; a burst of water complaints in 观音寺街道 in the last
hours), then `jiesu hotspots mine` and `jiesu hotspots surges` as the clock would run them. The supervisor's
board shows the hot spot on the map; a surge is acknowledged by clicking; 天堂河's hot spot becomes a project
whose page draws its effect against comparable communities; a street's handler sees only its area's.

Screenshots go to $JIESU_SHOTS (default /tmp/shots18/pages)."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.test_pages import browser, login, page  # noqa: F401  (fixtures, with this module's server)
from tests.served import demo_env, jiesu, need_chromium, serving

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SHOTS = Path(os.environ.get("JIESU_SHOTS", "/tmp/shots18/pages"))
TZ = ZoneInfo("Asia/Shanghai")
TIANTANGHE = "110115010002"  # 天堂河社区, 天宫院街道, 大兴区
TIANGONGYUAN = "110115010000"
GUANYINSI = "110115009000"  # 观音寺街道: the demo's street user `guanyinsi`
LEAKS = ("楼上漏水到我家卫生间，多次找物业没人管", "暖气不热，屋里只有十四度，老人孩子受不了",
         "墙面潮湿发霉，老楼外墙渗水", "小区路面破损坑洼，晚上走路摔倒", "楼道水管老化漏水，地面全是水")
OTHER = ("小区路灯不亮，晚上出行不便", "楼道堆放杂物，存在消防隐患", "小区绿地无人养护", "楼顶防水层破损漏雨")
MAIN = ("路边自来水管爆裂，水漫到马路上", "家里突然停水了，没有任何通知", "小区门口水管破了，水一直往外冒")


def _month_start(now: datetime, back: int) -> datetime:
    y, m = now.year, now.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return datetime(y, m, 1, 10, 0, tzinfo=TZ)


def history(path: Path, now: datetime) -> str:
    """The CSV `jiesu tickets import` reads; returns the project's start (a local date, YYYY-MM-DD)."""
    rows: list[dict[str, str]] = []
    start = _month_start(now, 3)  # the renovation began three months ago (the first of that month)

    def add(at: datetime, text: str, community: str, street: str, unit: str) -> None:
        n = len(rows)
        rows.append({"number": f"H18{n:06d}", "created_at": at.isoformat(), "text": text, "category": "城乡建设",
                     "street_code": street, "community_code": community, "unit": unit, "state": "closed",
                     "dispatched_at": (at + timedelta(hours=1)).isoformat(),
                     "signed_at": (at + timedelta(hours=2)).isoformat(),
                     "replied_at": (at + timedelta(days=2)).isoformat(),
                     "closed_at": (at + timedelta(days=3)).isoformat()})

    for back in range(15, -1, -1):  # fifteen months of history, this month so far included
        first = _month_start(now, back)
        days = 28 if back else max(1, (now - first).days - 1)
        mine = 30 if first < start else 8  # 天堂河: a complex everyone calls about, until the works began
        for i in range(mine * days // 28):
            at = first + timedelta(days=i * 28 / mine % days, hours=i % 7)
            add(at, LEAKS[i % len(LEAKS)], TIANTANGHE, TIANGONGYUAN, TIANGONGYUAN)
        for c in range(1, 19):  # the street's other communities: a couple a month each, steady
            code = f"1101150100{c:02d}"
            if code == TIANTANGHE:
                continue
            for i in range(2 if back else 1):
                at = first + timedelta(days=(c * 3 + i * 11) % days, hours=9 + c % 8)
                add(at, OTHER[(c + i) % len(OTHER)], code, TIANGONGYUAN, TIANGONGYUAN)
    # a burst water main in 观音寺街道 within the last hours, over five quiet weeks of a ticket every other day
    for d in range(35, 1, -2):
        add(now - timedelta(days=d, hours=3), OTHER[d % len(OTHER)], "", GUANYINSI, GUANYINSI)
    for i in range(14):
        add(now - timedelta(hours=3, minutes=-i * 9), MAIN[i % len(MAIN)], "", GUANYINSI, GUANYINSI)
    rows = [r for r in rows if datetime.fromisoformat(r["created_at"]) < now]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return start.date().isoformat()


def make_project(env: dict[str, str], started_on: str) -> int:
    """天堂河's hot spot becomes a renovation project (as the page's form does), with a progress update."""
    from datetime import date

    from sqlalchemy.orm import sessionmaker

    from jiesu.clock import SystemClock
    from jiesu.config import Settings
    from jiesu.db import make_engine, unit_of_work
    from jiesu.hotspots import projects
    from jiesu.hotspots import service as hotspots
    from jiesu.permissions import SYSTEM
    from jiesu.units import users

    settings = Settings(var_dir=Path(env["JIESU_VAR_DIR"]), database_url=env["JIESU_DATABASE_URL"])
    engine = make_engine(settings.effective_database_url)
    clock = SystemClock()
    try:
        with unit_of_work(sessionmaker(bind=engine, expire_on_commit=False), write=True) as s:
            supervisor = users.actor_of(users.get(s, SYSTEM, "supervisor"))
            spot = next(r.spot for r in hotspots.list_hotspots(s, supervisor, limit=200).rows
                        if r.spot.place_code == TIANTANGHE)
            made = projects.create_project(s, supervisor, clock, settings, projects.NewProject(
                owner=TIANGONGYUAN, title="天堂河社区老旧小区综合整治", hotspot_id=spot.id,
                plan="更换上下水管道、外墙保温和防水，整修路面；分楼施工，施工前告知居民",
                budget="市区两级财政 1200 万元", started_on=date.fromisoformat(started_on)))
            projects.step(s, supervisor, clock, made.id, "start")
            projects.add_update(s, supervisor, clock, made.id, "1-6 号楼管道更换完成", 60)
            return made.id
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def city(request, tmp_path_factory):
    need_chromium()
    env = demo_env(request, "e2e-hotspots")
    now = datetime.now(UTC).astimezone(TZ)
    csv_path = tmp_path_factory.mktemp("hotspots-history") / "history.csv"
    started_on = history(csv_path, now)
    jiesu(env, "tickets", "import", str(csv_path))
    mined = jiesu(env, "hotspots", "mine")
    surges = jiesu(env, "hotspots", "surges")
    project_id = make_project(env, started_on)
    with serving(env) as url:
        yield {"url": url, "project": project_id, "mined": mined, "surges": surges}


@pytest.fixture(scope="module")
def server(city) -> str:
    return city["url"]
