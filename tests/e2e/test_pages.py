"""A person in a real browser: Debian's Chromium driven by Playwright, against `jiesu serve`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.served import CHROMIUM, chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")



@pytest.fixture(scope="module")
def server(request):
    need_chromium()
    env = demo_env(request, "e2e")  # the session's demo city, a copy of its own
    with serving(env) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium(playwright) as b:
        yield b


@pytest.fixture
def page(browser, server):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def test_home_in_chinese_then_english(page, server, tmp_path):
    page.goto(server + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "接诉即办" in page.title()
    assert page.locator(".card b").first.inner_text() == "16"
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Places").is_visible()


def test_search_shows_ambiguous_balizhuang(page, server):
    page.goto(server + "/")
    page.get_by_placeholder("输入地名").fill("八里庄街道")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**/places?q=*")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    text = page.locator("table").inner_text()
    assert "朝阳区" in text and "海淀区" in text
    assert page.locator(".warn").is_visible()


def test_operator_logs_in_and_sees_units(page, server):
    page.goto(server + "/units?kind=street")
    page.wait_for_url("**/login?next=**")
    page.get_by_label("用户名").fill("operator")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误"
    page.get_by_label("密码").fill("jiesu12345")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(server + "/units?kind=street")  # back where the login interrupted
    assert "王芳 · 话务员" in page.locator(".who").inner_text()
    assert "共 349 个结果" in page.content()
    page.get_by_role("link", name="承办单位").click()
    page.select_option("select[name=district]", label="大兴区")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**district=110115000000*")
    assert page.locator("tbody tr").first.locator("td").nth(1).inner_text() == "大兴区人民政府"


def login(page, server, username: str = "operator") -> None:
    page.goto(server + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("jiesu12345")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(server + "/")


def test_an_english_browser_still_gets_chinese(browser, server):
    context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en-US,en;q=0.9"})
    pg = context.new_page()
    pg.goto(server + "/places?q=八里庄")
    assert pg.locator("html").get_attribute("lang") == "zh-CN"
    pg.get_by_role("link", name="English").click()
    pg.wait_for_url("**/places?q=*&lang=en")
    assert pg.locator("html").get_attribute("lang") == "en"
    assert pg.locator("input[name=q]").input_value() == "八里庄"  # the search survived the switch
    assert "Subdistrict" in pg.locator("table").inner_text()
    context.close()


def test_place_page_from_a_search(page, server):
    page.goto(server + "/places?q=八里庄街道")
    page.get_by_role("link", name="110108005000").click()
    page.wait_for_url("**/places/110108005000")
    assert page.get_by_role("heading", level=1).inner_text().startswith("八里庄街道")
    page.locator(".crumbs").get_by_role("link", name="海淀区").click()
    page.wait_for_url("**/places/110108000000")


def test_a_missing_page_is_a_page(page, server):
    response = page.goto(server + "/no-such-page")
    assert response.status == 404
    assert page.get_by_role("link", name="地名查询").is_visible()
    assert "页面不存在" in page.locator("h1").inner_text()


def test_a_phone_sized_screen(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=1)
    pg = context.new_page()
    login(pg, server)
    for path in ("/", "/units", "/places?q=八里庄"):
        pg.goto(server + path)
        pg.screenshot(path=str(tmp_path / f"phone{path.replace('/', '_')}.png"))
        # the header's links and button each keep their words on one line (the logout button may be a taller
        # touch target: its text's lines are counted, not its box), and the page itself never scrolls sideways
        lines = pg.locator("header.top nav a, header.top .who > *").evaluate_all(
            """els => els.map(e => { const tops = new Set(), walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
                 for (let t = walk.nextNode(); t; t = walk.nextNode()) { if (!t.data.trim()) continue;
                   const r = document.createRange(); r.selectNodeContents(t);
                   for (const b of r.getClientRects()) if (b.width > 0) tops.add(Math.round(b.top)); }
                 return [e.innerText, tops.size]; })""")
        assert lines and all(n == 1 for _text, n in lines), (path, [x for x in lines if x[1] != 1])
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390, path
    wrap = pg.locator(".table-wrap").first  # the results table scrolls inside its box instead
    assert wrap.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")
    context.close()


def test_api_docs_render_without_a_cdn(page, server):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/docs")
    page.wait_for_load_state("networkidle")
    foreign = [u for u in requests if not u.startswith(server)]
    assert foreign == []
    assert page.locator("text=Jiesu").first.is_visible()


def test_chromium_is_debians(server):
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists()
