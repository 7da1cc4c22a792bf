"""The operator console in a real browser (Debian's Chromium driven by Playwright, against `jiesu serve` on a
demo city): an inquiry typed in brings up its answer from the knowledge base, the operator picks it, and the
call is closed as a direct answer without a ticket being dispatched."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.served import chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

INQUIRY = "你好，我想咨询一下在北京落户需要准备什么证明材料"


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
    first.get_by_role("button", name="选用此答案").click()
    expect(first).to_have_class("kb-hit picked")
    assert page.get_by_label("答复内容").input_value() == suggested
    article_id = first.get_attribute("data-id")
    assert page.locator("#article-id").input_value() == article_id
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
    page.get_by_role("button", name="直接答复并办结").click()
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
