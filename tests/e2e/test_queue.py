"""The dispatcher's queue in a real browser (Debian's Chromium driven by Playwright, against `jiesu serve` on a copy
of the demo city): the dispatcher logs in, opens the queue from the nav, accepts smart dispatch's suggestion of a
waiting ticket with one click, and the ticket is dispatched under the suggested category and unit. The page is
also looked at on a phone (390x844), where the rows are cards. Screenshots: var/screenshots/queue.png and
queue-phone.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.served import chromium, demo_env, jiesu, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def sql(db: Path, statement: str, **params) -> list:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as c:
            result = c.execute(text(statement), params)
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def city(request):
    """`jiesu serve` on a copy of the demo city whose waiting tickets, taken as calls typed without a category, carry
    smart dispatch's suggestion: made by smart dispatch's worker (`jiesu clock --once`), as after intake."""
    need_chromium()
    env = demo_env(request, "e2e-queue")
    db = Path(env["JIESU_VAR_DIR"]) / "e2e.db"
    # As a call typed without a category (未分类): the classifier's category comes with the suggestion.
    sql(db, "UPDATE requests SET category_id = NULL WHERE id IN (SELECT request_id FROM tickets WHERE state = 'new')")
    sql(db, "UPDATE tickets SET category_id = NULL, suggestion = NULL, suggest_pending = 1 WHERE state = 'new'")
    jiesu(env, "clock", "--once")
    assert sql(db, "SELECT count(*) FROM tickets WHERE state = 'new' AND suggestion IS NOT NULL")[0][0] > 0
    with serving(env) as url:
        yield url, db


def test_the_dispatcher_accepts_a_suggestion_by_clicking(city):
    server, db = city
    expect = playwright.expect
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium(playwright) as browser:
        phone = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844},
                                    is_mobile=True, has_touch=True, device_scale_factor=2)
        page = phone.new_page()
        page.set_default_timeout(10_000)
        page.goto(server + "/login?next=/queue")
        page.get_by_label("用户名").fill("dispatcher")
        page.get_by_label("密码").fill("jiesu12345")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(server + "/queue")
        card = page.locator("table.queue tbody tr").first
        expect(card).to_be_visible()
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390  # a card, not a wide table
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
        page.screenshot(path=str(SCREENSHOTS / "queue-phone.png"), full_page=False)
        phone.close()

        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280,
                                                                                               "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(server + "/login")
        page.get_by_label("用户名").fill("dispatcher")
        page.get_by_label("密码").fill("jiesu12345")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(server + "/")
        page.get_by_role("link", name="派单", exact=True).click()
        page.wait_for_url(server + "/queue")
        expect(page.get_by_role("heading", name="派单台")).to_be_visible()
        row = page.locator("table.queue tbody tr").filter(has=page.locator("form.accept")).first
        expect(row).to_be_visible()
        number = row.get_attribute("data-number")
        unit = row.locator("form.accept input[name=unit]").get_attribute("value")
        category = row.locator("form.accept input[name=category]").get_attribute("value")
        assert number and unit and category, "the row's suggestion names a unit and a category"
        assert sql(db, "SELECT category_id FROM tickets WHERE number = :n", n=number)[0][0] is None  # 未分类
        page.goto(f"{server}/tickets/{number}")
        expect(page.locator("dl.facts").first).to_contain_text("未分类")
        page.go_back()
        page.wait_for_url(server + "/queue")
        expect(row.locator("td.suggestion")).to_contain_text(unit)
        page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=False)
        row.get_by_role("button", name="采纳建议派单").click()
        page.wait_for_url("**/queue?done=dispatch")
        expect(page.get_by_role("status")).to_contain_text("派单")
        expect(page.locator(f'tr[data-number="{number}"]')).to_have_count(0)
        page.goto(f"{server}/tickets/{number}")
        expect(page.locator("h1 .state")).to_have_text("待签收")
        path = sql(db, "SELECT path FROM categories WHERE code = :code", code=category)[0][0]
        facts = page.locator("dl.facts").first
        expect(facts).to_contain_text(path)
        expect(facts).not_to_contain_text("未分类")
        state, unit_code, category_code = sql(
            db, "SELECT t.state, u.code, c.code FROM tickets t JOIN units u ON u.id = t.main_unit_id "
                "JOIN categories c ON c.id = t.category_id WHERE t.number = :n", n=number)[0]
        assert (state, unit_code, category_code) == ("dispatched", unit, category)
        context.close()

