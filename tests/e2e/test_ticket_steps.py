"""A ticket worked by clicking, in a real browser (Debian's Chromium driven by Playwright, against `jiesu serve` on
a demo city): the dispatcher finds the street with the unit picker by typing part of its name, picks it with the
keyboard and dispatches; the street's handler signs and replies by clicking. The page shows the ticket as it is
after each step. Screenshots: var/screenshots/ticket-steps.png (desktop), ticket-phone.png (390x844)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.served import chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
GUANYINSI = "110115009000"
CGZF = "cgzf-110115"  # 大兴区城市管理综合行政执法局
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture(scope="module")
def city(request):
    need_chromium()
    env = demo_env(request, "e2e-ticket-steps")
    with serving(env) as url:
        yield url, Path(env["JIESU_VAR_DIR"]) / "e2e.db"


def query(db: Path, sql: str, **params):
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            return c.execute(text(sql), params).one_or_none()
    finally:
        engine.dispose()


def login(page, server: str, username: str) -> None:
    page.goto(server + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("jiesu12345")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(server + "/")


def test_dispatch_with_the_picker_then_sign_and_reply_by_clicking(city):
    server, db = city
    expect = playwright.expect
    number = query(db, "SELECT number FROM tickets WHERE state = 'new' ORDER BY id DESC LIMIT 1")[0]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium(playwright) as browser:
        desk = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
        page = desk.new_page()
        page.set_default_timeout(10_000)
        login(page, server, "dispatcher")
        page.goto(f"{server}/tickets/{number}")
        form = page.locator("form[action$='/steps/dispatch']")
        expect(form).to_be_visible()  # the main step of a new ticket, open
        unit = form.get_by_label("承办单位")
        unit.fill("")
        unit.press_sequentially("观音寺街", delay=40)  # part of the name: the list comes as one types
        option = form.locator(".pick-list li", has_text="观音寺街道办事处").first
        expect(option).to_be_visible()
        expect(form.locator(".pick-list li").first).to_contain_text("观音寺街道")
        while form.locator(".pick-list li[aria-selected=true]").get_attribute("data-code") != GUANYINSI:
            unit.press("ArrowDown")
        unit.press("Enter")  # picks; does not send the form
        expect(unit).to_have_value(GUANYINSI)
        expect(form.locator(".picked").first).to_contain_text("观音寺街道办事处")
        assert page.url.endswith(f"/tickets/{number}")
        co = form.locator("input[name=co_units]").first
        co.fill("")
        co.press_sequentially("大兴 执法", delay=40)  # a district's name and a word of the unit's: picked by mouse
        form.locator(".pick-list li", has_text="城市管理综合行政执法局").first.click()
        expect(co).to_have_value(CGZF)
        rows = form.locator("input[name=co_units]").count()
        form.get_by_role("button", name="+ 再加一个单位").click()  # one more row, for one more co-unit
        expect(form.locator("input[name=co_units]")).to_have_count(rows + 1)
        page.screenshot(path=str(SCREENSHOTS / "ticket-steps.png"), full_page=True)
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{server}/tickets/{number}?done=dispatch")
        expect(page.locator(".notice")).to_contain_text("已办理：派单")
        expect(page.locator(".ticket-head .state")).to_have_text("待签收")
        assert query(db, "SELECT state FROM tickets WHERE number = :n", n=number)[0] == "dispatched"
        assert query(db, "SELECT count(*) FROM ticket_units tu JOIN tickets t ON t.id = tu.ticket_id JOIN units u "
                         "ON u.id = tu.unit_id WHERE t.number = :n AND u.code = :c AND tu.role = 'co'",
                     n=number, c=CGZF)[0] == 1
        desk.close()

        phone = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844},
                                    is_mobile=True, has_touch=True, device_scale_factor=2)
        page = phone.new_page()
        page.set_default_timeout(10_000)
        login(page, server, "guanyinsi")
        page.goto(f"{server}/tickets/{number}")
        sign = page.locator("form[action$='/steps/sign']")
        expect(sign).to_be_visible()  # 签收 first and open for a dispatched ticket
        sign.locator("button[type=submit]").click()
        page.wait_for_url(f"{server}/tickets/{number}?done=sign")
        expect(page.locator(".ticket-head .state")).to_have_text("办理中")
        reply = page.locator("details.step-reply")
        expect(reply).to_have_attribute("open", "")  # now the reply is the main step
        reply.get_by_label("答复内容").fill("已到现场核查，群租房已整改，隔断已拆除。")
        reply.get_by_label("现场照片（可多张）").set_input_files(
            files=[{"name": "site.png", "mimeType": "image/png", "buffer": PNG}])
        expect(reply.locator(".photo-preview li")).to_have_count(1)  # the photo chosen, listed before it is sent
        expect(reply.locator(".photo-preview li")).to_contain_text("site.png")
        # no sideways scroll of the page on a phone: the forms and the timeline fit its width
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(SCREENSHOTS / "ticket-phone.png"), full_page=True)
        reply.locator("button[type=submit]").click()
        page.wait_for_url(f"{server}/tickets/{number}?done=reply")
        expect(page.locator(".notice")).to_contain_text("已办理：答复")
        expect(page.locator(".ticket-head .state")).to_have_text("已答复")
        expect(page.locator("tr.event-reply")).to_contain_text("已到现场核查")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert query(db, "SELECT state FROM tickets WHERE number = :n", n=number)[0] == "replied"
        assert query(db, "SELECT count(*) FROM attachments a JOIN tickets t ON t.id = a.ticket_id "
                         "WHERE t.number = :n AND a.filename = 'site.png'", n=number)[0] == 1
        phone.close()
