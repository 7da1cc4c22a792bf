"""The brief's three ticket stories, done by clicking only: a real browser (Debian's Chromium through Playwright)
drives `jiesu serve` on a copy of the demo city, each person in their own browser session, from the operator's
call to the callback's close. The test never calls the API; it reads the database only to check at the end
what the pages did. (The stories' timing, hours and business days, is replayed with a moved clock by the API
stories beside this file; here the clock is the real one.)

Each journey saves screenshots under var/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.served import chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.stories

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

PASSWORD = "jiesu12345"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def city(request):
    """`jiesu serve` on a copy of the demo city, its clock ticking every second (a reply reaches the callback
    desk at once): the URL and the database file."""
    need_chromium()
    env = demo_env(request, "stories-clicking")
    with serving(env, "--clock-interval", "1") as url:
        yield url, Path(env["JIESU_VAR_DIR"]) / "e2e.db"


@pytest.fixture(scope="module")
def browser(city):
    with chromium(playwright) as b:
        yield b


class Person:
    """One person at their own browser: a context of their own, logged in through the login page."""

    def __init__(self, browser, server: str, username: str, phone: bool = False) -> None:
        self.server = server
        options = {"viewport": PHONE, "is_mobile": True, "has_touch": True} if phone else {}
        self.context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.csp: list[str] = []
        self.page.on("console", lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.goto(server + "/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(PASSWORD)
        self.page.get_by_role("button", name="登录").click()
        self.page.wait_for_url(server + "/")
        playwright.expect(self.page.get_by_role("button", name="退出")).to_be_visible()

    def open_ticket(self, number: str) -> None:
        """From the ticket list's search, as a person who was told the number."""
        page = self.page
        page.get_by_role("link", name="工单", exact=True).first.click()
        page.get_by_placeholder(re.compile("编号|搜索|关键词")).fill(number)
        page.get_by_placeholder(re.compile("编号|搜索|关键词")).press("Enter")
        page.get_by_role("link", name=number).first.click()
        page.wait_for_url(re.compile(f"/tickets/{number}"))

    def from_workbench(self, number: str, step: str) -> None:
        """The one-click step (签收, 报到) on the ticket's card in the unit's workbench (工作台)."""
        page = self.page
        page.get_by_role("link", name="工作台", exact=True).first.click()
        button = page.locator(f'#t-{number} form.one-click[action$="/steps/{step}"] button')
        with page.expect_navigation():
            button.click()
        playwright.expect(page.locator(".error[role=alert]")).to_have_count(0)

    def take(self, step: str, **fields: str | list[str]) -> None:
        """Take a step from the ticket page: open its form, fill its fields, press its button."""
        page = self.page
        form = page.locator(f'form[action$="/steps/{step}"]').first
        if not form.is_visible():
            page.locator(f'details:has(form[action$="/steps/{step}"]) > summary').first.click()
        for name, value in fields.items():
            for i, v in enumerate([value] if isinstance(value, str) else value):
                form.locator(f'[name="{name}"]').nth(i).fill(v)
        with page.expect_navigation():
            form.locator('button[type="submit"]').last.click()
        playwright.expect(page.locator(".error[role=alert]")).to_have_count(0)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        assert not self.csp, self.csp  # the pages satisfy their own Content-Security-Policy
        self.context.close()


def dispatch_from_queue(dispatcher: Person, number: str, unit: str, co_unit: str = "") -> None:
    """The dispatcher opens the queue (派单), finds the ticket and, when smart dispatch suggested the unit the
    story needs, accepts the suggestion in one click; otherwise corrects it and dispatches."""
    page = dispatcher.page
    page.get_by_role("link", name="派单", exact=True).first.click()
    row = page.locator(f"#t-{number}")
    playwright.expect(row).to_be_visible()
    accept = row.locator("form.accept")
    suggested = ([accept.locator('[name="unit"]').get_attribute("value"),
                  *[i.get_attribute("value") for i in accept.locator('[name="co_units"]').all()]]
                 if accept.count() else [])
    if suggested == [unit, *([co_unit] if co_unit else [])]:
        with page.expect_navigation():
            accept.get_by_role("button").click()
        return
    correct = row.locator("details.correct")
    if correct.get_attribute("open") is None:
        correct.locator("summary").click()
    form = correct.locator("form")
    form.locator('[name="unit"]').fill(unit)
    form.locator('[name="co_units"]').fill(co_unit)
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()
    playwright.expect(page.locator(".error[role=alert]")).to_have_count(0)


def call(operator: Person, *, text_: str, kind: str, address: str, phone: str) -> str:
    """The operator types the call in the console and files it as a ticket: its number."""
    page = operator.page
    page.get_by_role("link", name="话务台").click()
    page.get_by_label("来电内容").fill(text_)
    page.get_by_label("诉求类型").select_option(label=kind)
    page.get_by_label("地点").fill(address)
    page.get_by_label("联系电话").fill(phone)
    page.get_by_role("button", name="转为工单").click()
    link = page.locator("p.notice a[href^='/tickets/']")
    playwright.expect(link).to_be_visible()
    return link.inner_text().strip()


def callback_close(agent: Person, number: str) -> None:
    """The callback agent finds the ticket on the desk (the clock queues it within a second or two) and records
    the citizen's answer: reached, contacted, resolved, satisfied."""
    page = agent.page
    for _ in range(20):
        page.get_by_role("link", name="回访").first.click()
        if page.locator(f"#t-{number}").count():
            break
        page.wait_for_timeout(500)
    card = page.locator(f"#t-{number}")
    card.get_by_label("联系上", exact=True).check()
    card.get_by_label("已联系").check()
    card.get_by_label("已解决").check()
    card.get_by_label("满意", exact=True).check()
    card.get_by_role("button", name="提交回访结果").click()
    playwright.expect(page.locator("p.notice")).to_contain_text(number)


def timeline(db: Path, number: str) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            rows = c.execute(text("SELECT e.action, e.actor FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                                  "WHERE t.number = :n ORDER BY e.seq"), {"n": number}).all()
            state = c.execute(text("SELECT state FROM tickets WHERE number = :n"), {"n": number}).scalar_one()
    finally:
        engine.dispose()
    return [(a, who) for a, who in rows], state


def people(browser, server: str, *names: str, phone: tuple[str, ...] = ()) -> dict[str, Person]:
    return {n: Person(browser, server, n, phone=n in phone) for n in names}


def test_group_rental_in_shouzuo_yuyuan_by_clicking(browser, city):
    server, db = city
    cast = people(browser, server, "operator", "dispatcher", "guanyinsi", "h-ga-110115", "h-cgzf-110115",
                  "h-zj-110115", "callback", phone=("guanyinsi", "h-ga-110115"))
    number = call(cast["operator"], kind="举报",
                  text_="首座御园小区一套房子被隔成十几间出租，住了二十多人，"
                        "楼道堆满杂物，存在安全隐患", address="大兴区观音寺街道首座御园二里", phone="13800000000")
    cast["operator"].shot("story-group-rental-1-call")

    dispatch_from_queue(cast["dispatcher"], number, "110115009000")
    cast["dispatcher"].shot("story-group-rental-2-queue")

    street = cast["guanyinsi"]
    street.from_workbench(number, "sign")
    street.open_ticket(number)
    street.take("whistle", units=["ga-110115", "cgzf-110115", "zj-110115"],
                reason="群租整治需公安、城管、住建联合执法")
    street.shot("story-group-rental-3-whistle")
    for code in ("h-ga-110115", "h-cgzf-110115", "h-zj-110115"):
        cast[code].from_workbench(number, "summons_sign")
        cast[code].open_ticket(number)
    street.take("note", text="街道牵头，公安核查住户身份，城管执法拆除违规隔断，住建约谈出租方")
    reports = {"h-ga-110115": "已核查登记住户23人，责令限期搬离", "h-cgzf-110115": "已拆除违规隔断9处",
               "h-zj-110115": "已约谈房屋出租人，责令恢复原状"}
    for code, report in reports.items():
        cast[code].take("summons_report", text=report)
    cast["h-ga-110115"].shot("story-group-rental-4-police-phone")
    street.open_ticket(number)  # the page as it is now: every department has reported, the reply is offered
    street.take("reply", text="经街道联合公安、城管、住建部门执法，群租房已清退，隔断已拆除")

    callback_close(cast["callback"], number)
    cast["callback"].open_ticket(number)
    playwright.expect(cast["callback"].page.locator(".ticket-head .state")).to_have_text("已办结")
    cast["callback"].shot("story-group-rental-5-closed")

    events, state = timeline(db, number)
    assert state == "closed"
    assert [a for a, _ in events if a not in ("suggest", "queue_callback")] == [
        "create", "dispatch", "sign", "whistle", *["summons_sign"] * 3, "note", *["summons_report"] * 3, "reply",
        "close"]
    assert [who for a, who in events if a in ("sign", "whistle", "reply")] == ["guanyinsi"] * 3
    for person in cast.values():
        person.close()


def test_yellow_line_on_ansi_road_by_clicking(browser, city):
    server, db = city
    cast = people(browser, server, "operator", "dispatcher", "xingshou", "h-jt-110114", "callback")
    number = call(cast["operator"], kind="投诉",
                  text_="安四路香屯村路段画的是黄色虚线，旁边却立着单行标志，"
                        "车辆不知道该怎么走，绿篱也挡住了视线，很危险",
                  address="昌平区兴寿镇安四路香屯村段", phone="13911112222")
    dispatch_from_queue(cast["dispatcher"], number, "110114116000", "jt-110114")
    town = cast["xingshou"]
    town.open_ticket(number)
    town.take("sign")
    notes = ("会同区公路分局现场勘察，已拆除与标线矛盾的单行标志", "已修剪遮挡视线的绿篱20棵", "已在路口施划停止线")
    for note in notes:
        town.take("note", text=note)
    town.take("reply", text="单行标志已拆除，绿篱20棵已修剪，停止线已施划，道路通行恢复正常")
    town.shot("story-yellow-line-1-replied")
    road = cast["h-jt-110114"]  # the co-unit sees the ticket it worked on
    road.open_ticket(number)
    playwright.expect(road.page.locator("table.units")).to_contain_text("兴寿镇")
    callback_close(cast["callback"], number)
    events, state = timeline(db, number)
    assert state == "closed"
    assert [a for a, _ in events if a not in ("suggest", "queue_callback")] == [
        "create", "dispatch", "sign", "note", "note", "note", "reply", "close"]
    for person in cast.values():
        person.close()


def test_fire_lane_in_guangwai_nanli_by_clicking(browser, city):
    server, db = city
    cast = people(browser, server, "operator", "dispatcher", "guangwainanli", "callback", phone=("guangwainanli",))
    # The resident posted in the app; the citizen's pages come with a later issue, so the operator takes it.
    number = call(cast["operator"], text_="车太多了，小区消防通道被私家车堵死了", kind="投诉",
                  address="东城区广外南里小区消防通道", phone="13612345678")
    dispatch_from_queue(cast["dispatcher"], number, "110101013006")
    worker = cast["guangwainanli"]
    worker.open_ticket(number)
    worker.take("sign")
    worker.take("note", text="联系物业公司，车主已挪车，消防通道已清理，物业加装禁停标识")
    worker.take("reply", text="社区已协调物业清理消防通道，今后加强巡查")
    worker.shot("story-fire-lane-1-community-phone")
    callback_close(cast["callback"], number)
    events, state = timeline(db, number)
    assert state == "closed"
    assert [who for a, who in events if a in ("sign", "note", "reply")] == ["guangwainanli"] * 3
    for person in cast.values():
        person.close()
