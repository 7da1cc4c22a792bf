"""The administrator in Debian's Chromium at 1280×800, against `jiesu serve` on a copy of the demo city: the demo's
admin logs in, opens 系统管理 from the header, adds a user through the form (a wrong unit first: the field says so
and the form keeps what was typed), and finds the new user on the audit page. The pages also fit a 390 px phone.
Screenshots into $JIESU_SHOTS (default var/screenshots): admin-*.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.test_pages import browser, login  # noqa: F401  (fixtures, with this module's server)
from tests.served import demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SHOTS = Path(os.environ.get("JIESU_SHOTS") or Path(__file__).resolve().parents[2] / "var" / "screenshots")


@pytest.fixture(scope="module")
def server(request):
    need_chromium()
    env = demo_env(request, "e2e-admin")
    with serving(env) as url:
        yield url


def new_page(browser, width: int, height: int):  # noqa: F811
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    return context, pg


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)


def test_the_admin_adds_a_user_and_finds_it_on_the_audit_page(browser, server):  # noqa: F811
    context, page = new_page(browser, 1280, 800)
    try:
        login(page, server, "admin")
        page.get_by_role("link", name="系统管理").first.click()
        page.wait_for_url(server + "/admin")
        shot(page, "index")
        page.get_by_role("navigation", name="系统管理").get_by_role("link", name="用户", exact=True).click()
        page.wait_for_url(server + "/admin/users")
        shot(page, "users")
        page.get_by_role("link", name="新增用户").click()
        page.wait_for_url(server + "/admin/users/new")
        page.locator("#f-username").fill("handler9")
        page.locator("#f-display_name").fill("测试承办人")
        page.locator("#f-role").select_option("unit_handler")
        page.locator("#f-unit_code").fill("no-such-unit")
        page.locator("#f-password").fill("handler-pass-1")
        page.locator("form.admin-form").get_by_role("button", name="新增用户").click()
        error = page.locator("#e-unit_code")
        playwright.expect(error).to_contain_text("单位代码不存在")  # said beside the field (waits for the post)
        assert page.locator("#f-display_name").input_value() == "测试承办人"  # kept
        shot(page, "users-form-error")
        page.locator("#f-unit_code").fill("110115009000")  # 观音寺街道办事处
        page.locator("#f-password").fill("handler-pass-1")
        page.locator("form.admin-form").get_by_role("button", name="新增用户").click()
        page.wait_for_url("**/admin/users/handler9?done=create")
        assert page.get_by_role("status").filter(has_text="已新增").is_visible()
        shot(page, "user")
        page.get_by_role("navigation", name="系统管理").get_by_role("link", name="操作审计").click()
        page.wait_for_url(server + "/admin/audit")
        row = page.locator("table.audit tbody tr").filter(has_text="handler9").first
        assert "admin" in row.inner_text() and "新增" in row.inner_text()
        assert "测试承办人" in row.inner_text() and "handler-pass-1" not in page.content()
        shot(page, "audit")
        page.goto(server + "/admin/users/handler9?lang=en")  # English through the catalogue
        assert page.get_by_role("heading", name="Account").is_visible()
        assert page.get_by_role("button", name="Reset password").is_visible()
        shot(page, "user-en")
        page.goto(server + "/admin/audit?lang=zh_CN")
        page.goto(server + "/admin/units/110115009000")
        shot(page, "unit")
        page.goto(server + "/admin/units?kind=street&district=110115000000")
        shot(page, "units")
        page.goto(server + "/admin/apikeys")
        page.locator("#f-name").fill("grid-app")
        page.locator("#f-note").fill("区网格中心")
        page.get_by_role("button", name="签发", exact=True).click()
        key = page.locator("#new-key").inner_text()
        assert key.strip() and "grid-app" in page.locator("table.admin-table").inner_text()
        shot(page, "apikeys")
        page.goto(server + "/admin/apikeys")
        assert key not in page.content()  # shown once
    finally:
        context.close()
    # a phone: the same pages, nothing wider than the screen but the tables scrolling in their box
    context, phone = new_page(browser, 390, 844)
    try:
        login(phone, server, "admin")
        for path, name in (("/admin/users/handler9", "user-390"), ("/admin/audit", "audit-390")):
            phone.goto(server + path)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
            shot(phone, name)
    finally:
        context.close()
