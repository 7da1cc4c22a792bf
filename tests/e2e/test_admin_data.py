"""Administration of the reference data in a real browser (1280x800) on the demo city, by clicking only: the
administrator changes a deadline policy, imports a year's holiday notice after its preview, writes an article and
publishes it through review, and finds each change in the audit (GET /api/v1/audit, with the same login). Screenshots
of the pages go to var/screenshots/ (JIESU_SHOTS: another folder)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.served import chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SHOTS = Path(os.environ.get("JIESU_SHOTS") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
DESK = {"width": 1280, "height": 800}
NOTICE = "date,kind,name\n2031-01-01,holiday,元旦\n2031-01-26,holiday,春节\n2031-02-08,workday,春节调休\n"


@pytest.fixture(scope="module")
def city(request):
    need_chromium()
    env = demo_env(request, "e2e-admin-data")
    with serving(env) as url:
        yield url


@pytest.fixture(scope="module")
def browser(city):
    with chromium(playwright) as b:
        yield b


@pytest.fixture
def admin(browser, city):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=DESK)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(city + "/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("jiesu12345")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(city + "/")
    yield context, page
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def audit(context, city: str, entity: str, key: str) -> list[dict]:
    r = context.request.get(city + "/api/v1/audit", params={"entity": entity, "key": key})
    assert r.ok, r.text()
    return r.json()["items"]


def audit_page(page, city: str, entity_label: str, key: str):
    """/admin/audit filtered by the form to one entity, then to `key` by its link: the newest row of it."""
    page.goto(city + "/admin/audit")
    page.get_by_label("对象").select_option(label=entity_label)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**/admin/audit?entity=*")
    page.locator("table.audit tbody tr code").filter(has_text=re.compile("^" + re.escape(key) + "$")).first.click()
    page.wait_for_url("**/admin/audit?entity=*&key=*")
    return page.locator("table.audit tbody tr").first


def test_the_admin_changes_a_deadline_policy(admin, city):
    context, page = admin
    page.goto(city + "/admin/policies")
    shot(page, "admin2-policies")
    page.locator('tr[id="p-*-complex"]').get_by_role("link", name="编辑").click()
    assert page.get_by_label("答复时限", exact=True).input_value() == "15"
    page.get_by_label("答复时限", exact=True).fill("12")
    page.get_by_label("备注").fill("疑难诉求：12个工作日内办结")
    page.get_by_role("button", name="保存时限").click()
    page.wait_for_url("**/admin/policies?done=*")
    row = page.locator('tr[id="p-*-complex"]')
    assert "12 个工作日" in row.inner_text() and "admin" in row.inner_text()
    # a bad value is refused beside its field, the rest of the form kept
    page.locator('tr[id="p-*-normal"]').get_by_role("link", name="编辑").click()
    page.get_by_label("答复时限", exact=True).fill("400")
    page.get_by_role("button", name="保存时限").click()
    playwright.expect(page.locator("#e-reply_within")).to_be_visible()  # waits for the posted page
    assert page.get_by_label("答复时限", exact=True).input_value() == "400"
    shot(page, "admin2-policies-error")
    [entry] = audit(context, city, "policy", "*:complex")[:1]
    assert entry["actor"] == "admin" and entry["action"] == "set"
    assert {"field": "reply_within", "before": 15.0, "after": 12.0} in entry["changes"]
    # and on the audit page, filtered to policies: the change with its before → after
    row = audit_page(page, city, "时限规则", "*:complex")
    change = row.locator("ul.changes li").filter(has=page.locator("del", has_text=re.compile(r"^15\b"))).filter(
        has=page.locator("ins", has_text=re.compile(r"^12\b")))
    playwright.expect(change).to_have_count(1)
    shot(page, "admin2-audit-policy")


def test_the_admin_imports_a_years_notice_after_a_preview(admin, city, tmp_path):
    context, page = admin
    notice = tmp_path / "2031.csv"
    notice.write_text(NOTICE, encoding="utf-8")
    page.goto(city + "/admin/calendar?year=2031")
    page.get_by_label("CSV 文件").set_input_files(str(notice))
    page.get_by_role("button", name="预览").click()
    playwright.expect(page.get_by_role("heading", name="导入预览")).to_be_visible()  # waits for the posted page
    shot(page, "admin2-calendar-preview")
    page.get_by_role("button", name="确认导入 3 天").click()
    page.wait_for_url("**/admin/calendar?year=2031&done=imported*")
    assert page.locator('tr[id="d-2031-02-08"]').inner_text().count("调休上班") == 1
    shot(page, "admin2-calendar")
    assert audit(context, city, "calendar", "2031-02-08")[0]["actor"] == "admin"


def test_the_admin_publishes_an_article_through_review(admin, city):
    context, page = admin
    page.goto(city + "/admin/articles")
    shot(page, "admin2-articles")
    page.get_by_role("link", name="新建条目").click()
    page.get_by_label("问题").fill("共享单车乱停放找谁？")
    page.get_by_label("答案").fill("可拨打 12345 反映，由属地街道会同运营企业清理。")
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_url("**/admin/articles/*?done=create")
    article_id = page.url.split("/admin/articles/")[1].split("?")[0]
    page.get_by_role("button", name="提交审核").click()
    page.wait_for_url("**?done=submit")
    page.get_by_role("button", name="审核发布").click()
    page.wait_for_url("**?done=approve")
    assert page.locator("h1 .badge").inner_text() == "已发布"
    history = page.locator(".history-list").inner_text()
    assert history.count("admin") >= 3 and "提交审核" in history and "审核发布" in history
    shot(page, "admin2-article")
    actions = [e["action"] for e in audit(context, city, "article", article_id)]
    assert actions == ["approve", "submit", "create"]
    # and on the audit page, filtered to articles: its creation (→ its question) with the steps after it
    row = audit_page(page, city, "知识文章", article_id)
    playwright.expect(page.locator("table.audit tbody tr")).to_have_count(3)
    playwright.expect(page.locator("table.audit ins", has_text="共享单车乱停放找谁？")).to_have_count(1)
    assert row.is_visible()
    shot(page, "admin2-audit-article")


def test_the_other_admin_pages_render(admin, city):
    _, page = admin
    for path, name in (("/admin/categories", "admin2-categories"), ("/admin/rules", "admin2-rules"),
                       ("/admin/categories/01", "admin2-category"), ("/admin/calendar?year=2024&lang=en",
                                                                    "admin2-calendar-en")):
        page.goto(city + path)
        assert page.locator("nav.admin2-nav a.on").count() == 1
        shot(page, name)
