"""The callback desk, the citizen's survey and the supervisor's page in Debian's Chromium, against `jiesu serve`
on the demo city: an answer recorded on /callbacks closes the ticket, the number is revealed through the
logged API, the citizen answers the survey on a phone-sized screen, and /assessment draws its two plotly
charts with plotly.js served by Jiesu itself (no request leaves the server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_pages import browser, login, page  # noqa: F401  (fixtures, with this module's server)
from tests.served import demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

PHONE = "13912345678"


def make_tickets(env: dict[str, str]) -> dict[str, str]:
    """Two replied tickets of 观音寺街道 in the callback queue, made through the services as the demo users:
    one for the desk, one for the survey (with its link's token)."""
    from sqlalchemy.orm import sessionmaker

    from jiesu.callback import service as callback
    from jiesu.clock import SystemClock
    from jiesu.config import Settings
    from jiesu.db import make_engine, unit_of_work
    from jiesu.permissions import SYSTEM
    from jiesu.taxonomy.models import RequestType
    from jiesu.tickets import jobs
    from jiesu.tickets import service as tickets
    from jiesu.tickets.models import Channel
    from jiesu.tickets.rules import Step
    from jiesu.units import users

    settings = Settings(var_dir=Path(env["JIESU_VAR_DIR"]), database_url=env["JIESU_DATABASE_URL"])
    engine = make_engine(settings.effective_database_url)
    clock, out = SystemClock(), {}
    try:
        with unit_of_work(sessionmaker(bind=engine, expire_on_commit=False), write=True) as s:
            who = {name: users.actor_of(users.get(s, SYSTEM, name)) for name in ("operator", "dispatcher", "guanyinsi")}
            for key, text in (("desk", "首座御园东门外夜间施工噪音扰民，希望尽快处理"),
                              ("survey", "首座御园3号楼前路灯不亮已经一周了")):
                new = tickets.NewRequest(text=text, request_type=RequestType.complaint, channel=Channel.hotline,
                                         address="大兴区首座御园", area_code="110115009000", contact_name="李四",
                                         contact_phone=PHONE)
                number = tickets.create_request(s, who["operator"], clock, settings, new).ticket.number
                for actor, step, data in ((who["dispatcher"], Step.dispatch, {"unit": "110115009000"}),
                                          (who["guanyinsi"], Step.sign, {}),
                                          (who["guanyinsi"], Step.reply, {"text": f"已处理：{text[:6]}"})):
                    t = tickets.act(s, actor, clock, settings, number, step, tickets.StepInput(**data))
                out[key] = number
                if key == "survey":
                    out["token"] = callback.survey_token(settings, t)
            jobs.tick(s, clock, settings)
    finally:
        engine.dispose()
    return out


@pytest.fixture(scope="module")
def demo(request):
    """The demo city (a copy of the session's) served by `jiesu serve`, with two tickets waiting for their
    callback."""
    need_chromium()
    env = demo_env(request, "e2e-assessment")
    made = make_tickets(env)
    with serving(env) as url:
        yield {"url": url, **made}


@pytest.fixture(scope="module")
def server(demo) -> str:
    return demo["url"]


def test_the_callback_agent_closes_a_ticket_from_the_desk(page, server, demo, tmp_path):  # noqa: F811
    login(page, server, "callback")
    page.get_by_role("link", name="回访", exact=True).click()
    page.wait_for_url(server + "/callbacks")
    number = demo["desk"]
    item = page.locator(f"article#t-{number}")
    assert "139****5678" in item.inner_text() and PHONE not in page.content()
    item.get_by_role("button", name="显示号码").click()  # the real number, read (and logged) through the API
    item.locator(f"text={PHONE}").wait_for()
    form = item.locator("form.callback-form")
    form.get_by_label("联系上", exact=True).check()
    form.get_by_label("已联系", exact=True).check()
    form.get_by_label("已解决", exact=True).check()
    form.get_by_label("满意", exact=True).check()
    form.get_by_label("备注").fill("噪音已停止，市民满意")
    page.screenshot(path=str(tmp_path / "callbacks.png"), full_page=True)
    form.get_by_role("button", name="提交回访结果").click()
    page.wait_for_url("**/callbacks?done=*")
    assert "回访完成，工单已办结" in page.get_by_role("status").inner_text()
    assert page.locator(f"article#t-{number}").count() == 0
    page.get_by_role("status").get_by_role("link", name=number).click()
    page.wait_for_url(f"**/tickets/{number}")
    assert page.locator(".ticket-head .state").inner_text() == "已办结"
    assert "噪音已停止，市民满意" in page.locator("table.timeline").inner_text()


def test_an_unreached_citizen_greys_out_the_questions(page, server, demo):  # noqa: F811
    login(page, server, "callback")
    page.goto(server + "/callbacks")
    form = page.locator("form.callback-form").first
    form.get_by_label("未联系上", exact=True).check()
    assert form.get_by_label("已解决", exact=True).is_disabled()  # in a disabled fieldset: not sent
    form.get_by_label("联系上", exact=True).check()
    assert form.get_by_label("已解决", exact=True).is_enabled()


def test_the_supervisor_sees_rankings_trends_and_overdue_lists(page, server, tmp_path):  # noqa: F811
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, server, "supervisor")
    page.get_by_role("link", name="考核督办").click()
    page.wait_for_url(server + "/assessment")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text().startswith("考核与督办")
    # both charts drawn by plotly: its plot class, and an svg with bars and lines in it
    page.locator("#chart-ranking .js-plotly-plot, #chart-ranking.js-plotly-plot").first.wait_for()
    assert page.locator(".js-plotly-plot").count() == 2
    assert page.locator("#chart-ranking svg.main-svg").count() >= 1
    assert page.locator("#chart-ranking .barlayer .point").count() >= 1
    # response, contact, resolution, satisfaction and the composite
    assert page.locator("#chart-trend .scatterlayer .trace").count() == 5
    assert page.locator("table.ranking tbody tr").count() >= 1
    assert page.locator("table.ranking thead").get_by_text("联系率", exact=True).is_visible()
    page.screenshot(path=str(tmp_path / "assessment-street.png"), full_page=True)
    # the response rate's card opens the dispatches not signed in time, with their deadlines and sign times
    page.locator(".card.response").get_by_role("link", name="未按时签收").click()
    page.wait_for_url("**/assessment/behind?*measure=not_in_time*")
    assert page.get_by_role("heading", level=1).inner_text().endswith("未按时签收")
    assert page.locator("table.behind.signing thead").inner_text().split() == [
        "工单编号", "考核单位", "派单时间", "签收时限", "签收时间", "计入"]
    page.screenshot(path=str(tmp_path / "assessment-not-in-time.png"), full_page=True)
    page.go_back()
    page.wait_for_load_state("networkidle")
    # the districts are ranked in the demo city: ranks, and the bottom named
    page.locator("nav.chips").get_by_role("link", name="区", exact=True).click()
    page.wait_for_url("**/assessment?*level=district*")
    page.wait_for_load_state("networkidle")
    ranks = page.locator("table.ranking tbody tr td:first-child").all_inner_texts()
    assert any(r.strip().startswith("1") for r in ranks), ranks
    assert page.locator("#chart-ranking .barlayer .point").count() >= 1
    page.screenshot(path=str(tmp_path / "assessment-district.png"), full_page=True)
    # a count drills down to its tickets, and a ticket opens
    page.locator("table.ranking tbody tr").first.locator("td").nth(3).get_by_role("link").click()
    page.wait_for_url("**/assessment/behind?*")
    first = page.locator("table.behind tbody tr").first.get_by_role("link")
    number = first.inner_text()
    first.click()
    page.wait_for_url(f"**/tickets/{number}")
    # the supervision lists are there, each ticket a link
    page.goto(server + "/assessment")
    for anchor in ("sign-overdue", "reply-overdue", "escalated", "reopened"):
        assert page.locator(f"#{anchor}").is_visible()
    assert page.locator("table.supervision a[href^='/tickets/']").count() >= 1
    foreign = [u for u in requests if not u.startswith(server)]
    assert foreign == []
    assert any(u == server + "/static/vendor/plotly.min.js" for u in requests)


def test_a_citizen_answers_the_survey_on_a_phone(browser, server, demo, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=1)
    pg = context.new_page()
    pg.goto(f"{server}/survey/{demo['token']}")
    assert pg.get_by_role("heading", level=1).inner_text() == "市民评价"
    assert demo["survey"] in pg.locator("dl.facts").inner_text()
    assert "已处理" in pg.locator("dl.facts").inner_text()
    assert "139" not in pg.content() and "李四" not in pg.content()  # nothing personal
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    pg.get_by_label("联系了", exact=True).check()
    pg.get_by_label("部分解决", exact=True).check()
    pg.get_by_label("基本满意", exact=True).check()
    pg.get_by_label("意见或建议（选填）").fill("灯修好了，但还有一盏不亮")
    pg.screenshot(path=str(tmp_path / "survey.png"), full_page=True)
    pg.get_by_role("button", name="提交评价").click()
    pg.wait_for_load_state()
    assert pg.get_by_role("heading", level=1).inner_text() == "感谢您的评价"
    pg.goto(f"{server}/survey/{demo['token']}")  # the same link again
    assert "此工单已完成评价或已办结" in pg.get_by_role("status").inner_text()
    pg.goto(f"{server}/survey/{demo['token']}x")
    assert "此评价链接无效或已过期" in pg.get_by_role("alert").inner_text()
    context.close()
