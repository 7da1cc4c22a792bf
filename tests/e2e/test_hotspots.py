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


def make_project(env: dict[str, str], started_on: str) -> dict[str, int]:
    """天堂河's hot spot becomes a renovation project (as the page's form does), with a progress update; the ids
    of the hot spot, the project and 观音寺街道's surge."""
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
            project = spot.project_id  # the demo city may have made it its renovation project already
            if project is None:
                made = projects.create_project(s, supervisor, clock, settings, projects.NewProject(
                    owner=TIANGONGYUAN, title="天堂河社区老旧小区综合整治", hotspot_id=spot.id,
                    plan="更换上下水管道、外墙保温和防水，整修路面；分楼施工，施工前告知居民",
                    budget="市区两级财政 1200 万元", started_on=date.fromisoformat(started_on)))
                projects.step(s, supervisor, clock, made.id, "start")
                projects.add_update(s, supervisor, clock, made.id, "1-6 号楼管道更换完成", 60)
                project = made.id
            # the street's own surge (the demo city may have raised one for a community of it too, or the same
            # burst already: overlapping windows are raised once), the largest
            raised = [r.spot for r in hotspots.list_surges(s, supervisor, status="raised").rows
                      if GUANYINSI in (r.spot.street_code, r.spot.place_code)]
            surge = max(raised, key=lambda x: (x.place_code == GUANYINSI, x.observed))
            other = next(r.spot for r in hotspots.list_hotspots(s, supervisor, status="open", limit=200).rows)
            return {"hotspot": spot.id, "project": project, "surge": surge.id, "observed": surge.observed,
                    "open": other.id,
                    "open_street": other.street_code}
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
    ids = make_project(env, started_on)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serving(env) as url:
        yield {"url": url, **ids, "mined": mined, "surges": surges}


@pytest.fixture(scope="module")
def server(city) -> str:
    return city["url"]


def test_the_board_shows_the_hot_spot_on_the_map_on_a_desk_and_on_a_phone(page, server, city, browser):  # noqa: F811
    login(page, server, "supervisor")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="主动治理", exact=True).click()
    page.wait_for_url(server + "/hotspots")
    spot = city["hotspot"]
    dot = page.locator(f"#hotspot-map circle[data-id='{spot}']")
    playwright.expect(dot).to_have_count(1)
    assert page.locator("#hotspot-map path[data-code]").count() == 16  # the districts, drawn
    item = page.locator(f"li#hotspot-{spot}")
    playwright.expect(item).to_contain_text("天堂河社区")
    label = item.locator(".label").inner_text()
    assert label in ("新出现", "加剧", "持续", "零星", "减弱")  # its trend, as the miner labelled it
    playwright.expect(item.locator(".state")).to_have_text("已立项")  # it became the renovation project
    page.screenshot(path=str(SHOTS / "board-1280.png"), full_page=True)

    page.locator("form.filters select[name=district]").select_option(label="大兴区")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/hotspots?*district=110115000000*")
    playwright.expect(page.locator("#hotspot-map path.here")).to_have_count(1)
    playwright.expect(page.locator(f"#hotspot-map circle[data-id='{spot}']")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "board-daxing-1280.png"), full_page=True)

    phone = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True)
    try:
        p = phone.new_page()
        login(p, server, "supervisor")
        p.goto(server + "/hotspots")
        playwright.expect(p.locator(f"#hotspot-map circle[data-id='{spot}']")).to_have_count(1)
        assert p.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        p.screenshot(path=str(SHOTS / "board-390.png"), full_page=True)
        p.locator(f"#hotspot-map a.point:has(circle[data-id='{spot}'])").click()
        p.wait_for_url(f"{server}/hotspots/{spot}")
        playwright.expect(p.locator("ol.bar-row li")).to_have_count(12)  # its twelve weeks
        assert p.evaluate("document.documentElement.scrollWidth") <= 390
        p.screenshot(path=str(SHOTS / "hotspot-390.png"), full_page=True)
        p.goto(f"{server}/projects/{city['project']}")
        playwright.expect(p.locator("#effect-chart polyline")).to_have_count(2)
        assert p.evaluate("document.documentElement.scrollWidth") <= 390
        p.locator("#effect").screenshot(path=str(SHOTS / "project-effect-390.png"))
    finally:
        phone.close()


def test_a_surge_is_acknowledged_by_clicking(page, server, city):  # noqa: F811
    login(page, server, "supervisor")
    page.goto(server + "/hotspots")
    card = page.locator(f"article#surge-{city['surge']}")
    playwright.expect(card).to_contain_text("观音寺街道")
    playwright.expect(card.locator(".state")).to_have_text("待确认")
    card.get_by_role("button", name="确认突发").click()
    page.wait_for_url("**/hotspots?*done=acknowledged*")
    playwright.expect(page.get_by_role("status")).to_have_text("已确认突发")
    playwright.expect(page.locator(f"article#surge-{city['surge']}")).to_have_count(0)  # no longer waiting
    page.locator("details.handled summary").click()  # but still found among those handled lately
    playwright.expect(page.locator(f"ul.handled-surges a[href='/surges/{city['surge']}']")).to_be_visible()

    page.goto(f"{server}/surges/{city['surge']}")
    playwright.expect(page.locator(".surge-facts .state")).to_have_text("已确认")
    observed = int(page.locator("dd.observed").inner_text().split()[0])
    assert observed == city["observed"] and observed >= 5  # the burst, as the scan counted it
    playwright.expect(page.locator("ol.updates li")).to_have_count(2)  # raised by the scan, acknowledged by her
    playwright.expect(page.locator("ol.updates li").nth(1)).to_contain_text("supervisor")
    assert page.get_by_role("button", name="确认突发").count() == 0  # done: nothing more to click
    page.screenshot(path=str(SHOTS / "surge-1280.png"), full_page=True)


def test_the_project_shows_its_effect_against_comparable_communities(page, server, city):  # noqa: F811
    login(page, server, "supervisor")
    page.goto(f"{server}/hotspots/{city['hotspot']}")
    page.get_by_role("link", name="查看治理项目").click()
    page.wait_for_url(f"{server}/projects/{city['project']}")
    words = page.locator("#effect-words")
    playwright.expect(words).to_contain_text("较可比社区多下降")
    # 天堂河 went from 30 a month to 8 (and more in the demo city's own story), its comparable communities stayed at
    # about 2: many fewer a month
    fewer = float(words.locator("b.down").first.inner_text())
    assert fewer >= 10
    playwright.expect(words).to_contain_text("%)")
    chart = page.locator("#effect-chart")
    playwright.expect(chart.locator("polyline")).to_have_count(2)  # the project's place and the comparison
    playwright.expect(chart.locator("line.start")).to_have_count(1)  # the start, marked
    with page.expect_download() as got:
        page.get_by_role("link", name="导出 Excel").click()
    assert got.value.suggested_filename == f"project-{city['project']}-effect.xlsx"

    page.get_by_label("进展说明").fill("7-12 号楼外墙保温完工")  # (a done project takes no progress: not this one)
    page.get_by_label("完成进度（%）").fill("80")
    page.get_by_role("button", name="记录进展").click()
    page.wait_for_url("**?done=update")
    playwright.expect(page.get_by_role("status")).to_have_text("已记录进展")
    playwright.expect(page.locator("ol.updates li").first).to_contain_text("7-12 号楼外墙保温完工")
    page.locator("#effect").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "project-1280.png"), full_page=True)


def test_a_street_sees_only_its_own_area(page, server, city):  # noqa: F811
    login(page, server, "guanyinsi")
    page.locator("a.hotspots-card").click()
    page.wait_for_url(server + "/hotspots")
    playwright.expect(page.locator("p.scope")).to_contain_text("观音寺")
    playwright.expect(page.locator(f"li#hotspot-{city['hotspot']}")).to_have_count(0)  # 天堂河 is not theirs
    assert page.get_by_role("button", name="确认突发").count() == 0  # the supervisors decide
    page.screenshot(path=str(SHOTS / "unit-board-1280.png"), full_page=True)
    assert page.goto(f"{server}/hotspots/{city['hotspot']}").status == 404
    page.goto(f"{server}/surges/{city['surge']}")  # the burst in its own street
    playwright.expect(page.locator("h1")).to_contain_text("突发")


def test_a_hot_spot_is_watched_then_made_a_project_from_its_page(page, server, city):  # noqa: F811
    login(page, server, "supervisor")
    page.goto(f"{server}/hotspots/{city['open']}")
    page.get_by_role("button", name="关注", exact=True).click()
    page.wait_for_url("**?done=watch")
    playwright.expect(page.locator("dl.facts .state")).to_have_text("关注中")
    page.get_by_role("link", name="立为治理项目").click()
    page.wait_for_url(f"**/projects/new?hotspot={city['open']}")
    page.get_by_label("项目名称").fill("楼道环境整治")
    assert page.get_by_label("责任单位").input_value() == city["open_street"]  # its own street, proposed
    page.get_by_label("实施方案").fill("清理楼道堆物，增设消防设施")
    page.get_by_role("button", name="创建治理项目").click()
    page.wait_for_url("**/projects/*?done=created")
    playwright.expect(page.get_by_role("status")).to_have_text("治理项目已创建")
    playwright.expect(page.locator("h1")).to_contain_text("楼道环境整治")
    playwright.expect(page.locator("h1 .state")).to_have_text("已立项")
    page.screenshot(path=str(SHOTS / "project-new-1280.png"), full_page=True)
