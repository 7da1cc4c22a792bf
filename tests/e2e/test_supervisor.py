"""The supervisor's day in Debian's Chromium, against `jiesu serve` on a copy of the demo city: the home page says how
many tickets are still unsigned past their sign deadline, the count leads to exactly those, and one ticket of the
overdue list on /assessment is escalated (督办) with a reason, by clicking only. Screenshots:
var/screenshots/supervisor-home.png and supervisor.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_pages import browser, login, page  # noqa: F401  (fixtures, with this module's server)
from tests.served import demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def server(request):
    need_chromium()
    env = demo_env(request, "e2e-supervisor")
    with serving(env) as url:
        yield url


def test_the_supervisor_escalates_an_overdue_ticket(page, server):  # noqa: F811
    login(page, server, "supervisor")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "supervisor-home.png"), full_page=True)
    card = page.locator("a.waiting-sign_overdue")
    overdue = int(card.locator("b").inner_text())
    assert overdue > 0  # the demo leaves tickets whose unit has not signed in time
    assert "签收超期" in card.inner_text()
    card.click()
    page.wait_for_url("**/tickets?open=1&late=sign")  # still not signed, past the deadline
    assert page.get_by_text(f"共 {overdue} 个结果").is_visible()  # the list has as many as the home page said
    page.get_by_role("link", name="考核督办").first.click()  # the month's supervision lists, with 督办 on each row
    page.wait_for_url("**/assessment")
    row = page.locator("table.sign-overdue tbody tr").filter(has=page.locator("form.escalate")).first
    number = row.locator("td a").first.inner_text()
    assert re.fullmatch(r"\d{8}-\d{6}", number)
    row.get_by_placeholder("督办理由").fill("超时未签收，请立即签收办理")
    row.get_by_role("button", name="督办").click()
    page.wait_for_url("**done=escalate")
    assert page.get_by_role("status").filter(has_text="督办已记录").is_visible()
    assert page.locator("table.escalated").get_by_role("link", name=number).count() == 1
    page.screenshot(path=str(SCREENSHOTS / "supervisor.png"), full_page=False)
    page.goto(f"{server}/tickets/{number}")
    assert "超时未签收，请立即签收办理" in page.content()  # on the ticket's timeline
