"""The operator console in a real browser (Debian's Chromium driven by Playwright, against `jiesu serve` on a
demo city): an inquiry typed in brings up its answer from the knowledge base, the operator picks it, and the
call is closed as a direct answer without a ticket being dispatched; a complaint typed with the keyboard shows
smart dispatch's suggestion before it is filed, and is filed with its urgency by a shortcut. The callback desk
on a phone: each card shows the unit's reply and the last steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.served import chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

INQUIRY = "你好，我想咨询一下在北京落户需要准备什么证明材料"
COMPLAINT = "首座御园二里5号楼有群租房，一套房隔成十几间住了二十多人，楼道堆满杂物，存在消防隐患，希望尽快处理。"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def screenshot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


@pytest.fixture(scope="module")
def city(request):
    """`jiesu serve` on a copy of the session's demo city (its knowledge base seeded from the replied messages):
    its URL and its database file."""
    need_chromium()
    env = demo_env(request, "e2e-console")
    var = Path(env["JIESU_VAR_DIR"])
    with serving(env) as url:
        yield url, var / "e2e.db"


@pytest.fixture(scope="module")
def browser(city):
    with chromium(playwright) as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def login(page, server: str, username: str = "operator") -> None:
    page.goto(server + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("jiesu12345")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(server + "/")


def counts(db: Path) -> tuple[int, int]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            return (c.execute(text("SELECT count(*) FROM tickets")).scalar_one(),
                    c.execute(text("SELECT count(*) FROM requests WHERE outcome = 'direct_answer'")).scalar_one())
    finally:
        engine.dispose()


def test_an_inquiry_finds_its_answer_and_is_closed_without_a_ticket(page, city, tmp_path):
    server, db = city
    expect = playwright.expect
    tickets_before, answers_before = counts(db)
    login(page, server)
    page.get_by_role("link", name="话务台").click()
    page.wait_for_url(server + "/console")
    page.get_by_label("来电内容").fill(INQUIRY)  # the answers come up as the operator types
    first = page.locator("#kb-hits li").first
    expect(first.locator("h3")).to_contain_text("落户")
    expect(first).to_contain_text("落户")
    suggested = first.locator(".answer").inner_text()
    assert len(suggested) > 20
    page.keyboard.press("Alt+Shift+1")  # the shortcut picks the first answer (its button does the same)
    expect(first).to_have_class("kb-hit picked")
    assert page.get_by_label("答复内容").input_value() == suggested
    article_id = first.get_attribute("data-id")
    assert page.locator("#article-id").input_value() == article_id
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
    page.keyboard.press("Alt+a")  # 直接答复并办结
    page.wait_for_url("**/console?answered=*")
    expect(page.get_by_role("status")).to_contain_text("未派发工单")
    request_id = int(page.url.rsplit("=", 1)[1])
    tickets_after, answers_after = counts(db)
    assert (tickets_after, answers_after) == (tickets_before, answers_before + 1)  # answered, nothing dispatched
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            row = c.execute(text("SELECT r.outcome, r.request_type, r.answer, k.article_id FROM requests r "
                                 "JOIN knowledge_answers k ON k.request_id = r.id WHERE r.id = :id"),
                            {"id": request_id}).one()
            assert c.execute(text("SELECT count(*) FROM tickets WHERE request_id = :id"),
                             {"id": request_id}).scalar_one() == 0
    finally:
        engine.dispose()
    assert (row.outcome, row.request_type, row.answer) == ("direct_answer", "inquiry", suggested)
    assert str(row.article_id) == article_id


def test_a_complaint_hides_the_answers_and_becomes_a_ticket(page, city):
    server, db = city
    tickets_before, _ = counts(db)
    login(page, server)
    page.goto(server + "/console")
    page.get_by_label("来电内容").fill("楼下餐馆每天晚上油烟很大，排风机噪音扰民，请相关部门处理。")
    page.get_by_label("诉求类型").select_option(label="投诉")
    assert not page.get_by_role("button", name="直接答复并办结").is_visible()
    assert not page.locator("section.kb").is_visible()
    page.get_by_role("button", name="转为工单").click()
    page.wait_for_url("**/console?ticket=*")
    assert counts(db)[0] == tickets_before + 1


def test_a_citizen_searches_the_public_part_without_logging_in(page, city):
    server, _ = city
    r = page.request.get(server + "/api/v1/knowledge/search", params={"q": INQUIRY})
    assert r.ok
    hits = r.json()["hits"]
    assert hits and all(h["public"] for h in hits)


def test_a_complaint_shows_its_suggestion_before_it_is_filed_by_keyboard(page, city):
    """The whole call with the keyboard: Alt+N to the text, Tab through the fields, Alt+U to the urgency,
    Alt+G to file it; the suggestion (category, place, unit) is on the page before the ticket exists."""
    server, db = city
    expect = playwright.expect
    tickets_before, _ = counts(db)
    login(page, server)
    page.goto(server + "/console")
    expect(page.locator("section.shortcuts")).to_contain_text("Alt")  # the shortcuts are on the page
    kb = page.keyboard
    kb.press("Alt+n")
    expect(page.get_by_label("来电内容")).to_be_focused()
    kb.insert_text(COMPLAINT)
    page.get_by_label("来电内容").dispatch_event("input")
    kb.press("Tab")
    expect(page.get_by_label("诉求类型")).to_be_focused()
    kb.press("ArrowDown")
    kb.press("ArrowDown")
    expect(page.get_by_label("诉求类型")).to_have_value("complaint")
    kb.press("Tab")
    kb.type("13900001234")
    kb.press("Tab")
    kb.insert_text("李女士")
    kb.press("Tab")
    expect(page.locator("#address")).to_be_focused()
    kb.insert_text("大兴区首座御园二里5号楼")
    page.locator("#address").dispatch_event("input")
    suggestion = page.locator("#suggest-body")
    expect(suggestion.locator(".s-category")).to_contain_text("城乡建设")
    expect(suggestion.locator(".s-unit")).to_contain_text("观音寺街道")
    expect(suggestion.locator(".s-place")).to_contain_text("首座御园二里")
    assert counts(db)[0] == tickets_before  # seen before any ticket exists
    kb.press("Alt+u")
    expect(page.locator("#urgency")).to_be_focused()
    kb.press("ArrowDown")
    expect(page.locator("#urgency")).to_have_value("emergency")
    kb.press("Tab")  # 匿名: left as it is
    kb.press("Tab")
    kb.press("Space")  # 不需回访: yes
    expect(page.get_by_label("不需回访")).to_be_checked()
    screenshot(page, "console-suggestion.png")
    kb.press("Alt+g")
    page.wait_for_url("**/console?ticket=*")
    assert counts(db)[0] == tickets_before + 1
    page.get_by_role("status").get_by_role("link").click()
    page.wait_for_url("**/tickets/*")
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text("紧急")
    expect(page.locator("body")).to_contain_text("首座御园二里5号楼有群租房")
    expect(page.locator("body")).to_contain_text("观音寺街道")  # the dispatcher sees the suggestion again
    number = page.url.rsplit("/", 1)[1]
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            row = c.execute(text("SELECT t.urgency, r.request_type, r.anonymous, r.no_callback FROM tickets t "
                                 "JOIN requests r ON r.id = t.request_id WHERE t.number = :n"), {"n": number}).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("emergency", "complaint", 0, 1)


def test_the_callback_desk_on_a_phone_shows_the_reply_and_the_last_steps(browser, city):
    server, _ = city
    expect = playwright.expect
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        login(page, server, "callback")
        page.goto(server + "/callbacks")
        card = page.locator("article.callback-item").first
        expect(card.locator(".reply-text p")).not_to_be_empty()
        steps = card.locator(".last-steps li")
        expect(steps).to_have_count(3)
        expect(steps.last).to_contain_text("进入回访队列")
        for part in (card.locator(".reply-text"), card.locator(".last-steps"),
                     card.get_by_role("button", name="提交回访结果")):
            box = part.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # nothing cut off at the right
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        card.scroll_into_view_if_needed()
        screenshot(page, "callbacks-phone.png", full_page=False)  # what the phone shows: the first card
    finally:
        context.close()
