"""The callback desk's page, the citizen's survey page and the assessment pages, on SQLite and PostgreSQL:
who may open them, what they show, the forms, the drill-down links and the charts' data and script."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from jiesu.callback import service as callback
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.config import Settings
from jiesu.tickets import jobs
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Ticket
from jiesu.tickets.rules import Step
from jiesu.tickets.rules import TicketState as S
from jiesu.web import assessment_pages
from tests import forms
from tests.integration.test_tickets import OTHER_STREET, STREET, Cast, Desk
from tests.stories import PASSWORD

MONTH = "2024-09"  # the clock fixture's: Monday 30 September 2024, 10:00 in Beijing


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Two valid callbacks rank a unit, and the last of each group is named: enough for a small test city.
    return Settings(var_dir=tmp_path, secret_key="test-secret", database_url="sqlite://", assess_min_sample=2,
                    assess_bottom=1)


def login(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


def replied_at(desk: Desk, cast: Cast, street: str = STREET, text: str = "楼下餐馆油烟扰民") -> Ticket:
    handler = cast.handler if street == STREET else cast.other_handler
    t = desk.new(cast.operator, text=text, area_code=street)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=street)
    desk.act(handler, t, Step.sign)
    return desk.act(handler, t, Step.reply, text="已督促餐馆加装油烟净化器")


def answer(desk: Desk, cast: Cast, t: Ticket, resolution=Resolution.resolved,
           satisfaction=Satisfaction.satisfied, contacted: bool = True) -> callback.Outcome:
    return callback.record(desk.session, cast.callback, desk.clock, desk.settings, t.number, callback.Answer(
        contacted=contacted, resolution=resolution, satisfaction=satisfaction))


@pytest.fixture
def city(desk, cast):
    """Two streets of 大兴区 called back this month: 观音寺 resolved both, 兴丰 one of two (reopened)."""
    good = [replied_at(desk, cast, STREET) for _ in range(2)]
    bad = [replied_at(desk, cast, OTHER_STREET, text="小区门口占道经营") for _ in range(2)]
    for t in good:
        answer(desk, cast, t)
    answer(desk, cast, bad[0])
    answer(desk, cast, bad[1], Resolution.unresolved, Satisfaction.unsatisfied)
    return {"good": [t.number for t in good], "bad": [t.number for t in bad]}


@pytest.fixture
def signing(desk, cast, clock):
    """Signing apart from contacting (the sign deadline is an hour after the dispatch here). 兴丰 signed its two
    tickets at once in August, and September's callbacks reached citizens it had contacted: no dispatch of
    September, so no response rate. 观音寺, on 30 September at 10:00: one ticket signed at once, one at 12:00
    (late), one never (missed at 12:00), one dispatched at 12:00 (its deadline ahead: not counted yet); the
    citizen of the first says it was contacted, the one of the late ticket that it was not. The clock is left
    at 12:00."""
    september = clock.now()
    clock.set(september - timedelta(days=31))  # Friday 30 August, 10:00 in Beijing
    august = [replied_at(desk, cast, OTHER_STREET, text="小区门口占道经营") for _ in range(2)]
    clock.set(september)
    for t in august:
        answer(desk, cast, t)
    made = {}
    for name in ("on_time", "late", "missed"):
        made[name] = desk.new(cast.operator)
        desk.act(cast.dispatcher, made[name], Step.dispatch, unit=STREET)
    desk.act(cast.handler, made["on_time"], Step.sign)
    clock.advance(timedelta(hours=2))
    desk.act(cast.handler, made["late"], Step.sign)
    made["pending"] = desk.new(cast.operator)
    desk.act(cast.dispatcher, made["pending"], Step.dispatch, unit=STREET)
    for name, contacted in (("on_time", True), ("late", False)):
        desk.act(cast.handler, made[name], Step.reply, text="已督促餐馆加装油烟净化器")
        answer(desk, cast, made[name], contacted=contacted)
    return {name: t.number for name, t in made.items()} | {"august": [t.number for t in august]}


def ranking_rows(html: str) -> list[str]:
    start = html.index('<table class="ranking">')
    return re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", html[start:html.index("</table>", start)], re.S)


def cell(row: str, name: str) -> str:
    m = re.search(rf'<td class="(?:[^"]* )?{name}(?: [^"]*)?">(.*?)</td>', row, re.S)
    assert m, f"no {name} cell in {row}"
    return m.group(1)


def numbers_on(html: str) -> list[str]:
    return re.findall(r'<a href="/tickets/([0-9]{8}-[0-9]{6})">', html)


def charts_of(html: str) -> dict:
    m = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert m, "no chart data on the page"
    return json.loads(m.group(1))


# --- who may open what ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/callbacks", "/assessment", f"/assessment/behind?month={MONTH}&measure=valid"])
def test_anonymous_visitors_are_sent_to_log_in(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/")


def test_the_pages_for_each_role(client, cast):
    expected = {  # username: (/callbacks, /assessment)
        "callback": (200, 200), "dispatcher": (200, 200), "admin": (200, 200), "supervisor": (403, 200),
        "operator": (403, 200), "handler": (403, 200), "citizen": (403, 403)}
    for username, (desk_page, assess_page) in expected.items():
        login(client, username)
        home = client.get("/").text
        assert (desk_page == 200) == ('href="/callbacks"' in home), username
        assert (assess_page == 200) == ('href="/assessment"' in home), username
        assert client.get("/callbacks").status_code == desk_page, username
        assert client.get("/assessment").status_code == assess_page, username
        behind = client.get("/assessment/behind", params={"month": MONTH, "measure": "valid"})
        assert behind.status_code == assess_page, username
        forms.post(client, "/logout")
    assert 'href="/assessment"' not in client.get("/").text


# --- the callback desk ---------------------------------------------------------------------------

def test_the_desk_records_an_answer_and_the_ticket_is_closed(client, desk, cast):
    t = replied_at(desk, cast)
    jobs.tick(desk.session, desk.clock, desk.settings)
    login(client, "callback")
    page = client.get("/callbacks").text
    assert t.number in page and f'action="/callbacks/{t.number}"' in page
    assert "138****0000" in page and "13800000000" not in page  # masked; the button asks the logged API
    assert "已回访 0 / 3 次" in page
    r = forms.post(client, f"/callbacks/{t.number}", data={"reached": "1", "contacted": "1", "resolution": "resolved",
                                                   "satisfaction": "satisfied", "comment": "满意"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    target = urlsplit(r.headers["location"])
    assert target.path == "/callbacks" and parse_qs(target.query) == {"done": [t.number], "result": ["closed"]}
    after = client.get(r.headers["location"]).text
    assert "回访完成，工单已办结" in after and f'<a href="/tickets/{t.number}">' in after
    assert f'action="/callbacks/{t.number}"' not in after  # out of the queue
    t = tickets.by_number(desk.session, t.number, fresh=True)
    assert t.state == S.closed and t.events[-1].reason == "满意"


def test_the_desk_counts_attempts_and_keeps_a_half_filled_form(client, desk, cast):
    t = replied_at(desk, cast)
    jobs.tick(desk.session, desk.clock, desk.settings)
    login(client, "callback")
    r = forms.post(client, f"/callbacks/{t.number}", data={"reached": "1", "contacted": "0",
            "satisfaction": "basically",
                                                   "comment": "还没问完"})
    assert r.status_code == 422
    assert "请选择问题是否解决" in r.text
    form = r.text[r.text.index(f'action="/callbacks/{t.number}"'):]
    assert 'value="0" checked' in form and 'value="basically" checked' in form and "还没问完" in form
    r = forms.post(client, f"/callbacks/{t.number}", data={"reached": "0"}, follow_redirects=False)
    assert parse_qs(urlsplit(r.headers["location"]).query)["result"] == ["retry"]
    page = client.get(r.headers["location"]).text
    assert "未联系上市民，稍后再次回访" in page and "已回访 1 / 3 次" in page
    desk.session.refresh(t)
    assert t.state == S.replied
    # a ticket no longer waiting: said so on the page, nothing recorded
    answer(desk, cast, t)
    r = forms.post(client, f"/callbacks/{t.number}", data={"reached": "0"})
    assert r.status_code == 409 and "已不在待回访状态" in r.text
    assert len(callback.history(desk.session, cast.callback, t.number)) == 2


def test_only_the_desk_posts_answers(client, desk, cast):
    t = replied_at(desk, cast)
    r = forms.post(client, f"/callbacks/{t.number}", data={"reached": "0"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    login(client, "handler")
    assert forms.post(client, f"/callbacks/{t.number}", data={"reached": "0"}).status_code == 403
    assert callback.history(desk.session, cast.callback, t.number) == []


# --- the survey ----------------------------------------------------------------------------------

def test_the_citizen_answers_the_survey_page(client, desk, cast):
    t = replied_at(desk, cast)
    token = callback.survey_token(desk.settings, t)
    page = client.get(f"/survey/{token}")  # no login
    assert page.status_code == 200
    assert t.number in page.text and "楼下餐馆油烟扰民" in page.text and "已督促餐馆加装油烟净化器" in page.text
    assert "138" not in page.text and "张三" not in page.text
    r = forms.post(client, f"/survey/{token}", data={"contacted": "1", "resolution": "resolved"})
    assert r.status_code == 422 and "请回答：您对办理结果是否满意" in r.text
    r = forms.post(client, f"/survey/{token}", data={"contacted": "1", "resolution": "resolved",
                                              "satisfaction": "satisfied", "comment": "谢谢"})
    assert r.status_code == 200 and "感谢您的评价" in r.text
    desk.session.refresh(t)
    assert t.state == S.closed
    again = client.get(f"/survey/{token}")
    assert again.status_code == 409 and "此工单已完成评价或已办结" in again.text
    assert forms.post(client, f"/survey/{token}", data={"contacted": "1", "resolution": "resolved",
                                                 "satisfaction": "satisfied"}).status_code == 409


def test_an_unresolved_survey_reopens_and_says_so(client, desk, cast):
    t = replied_at(desk, cast)
    token = callback.survey_token(desk.settings, t)
    r = forms.post(client, f"/survey/{token}", data={"contacted": "0", "resolution": "unresolved",
                                              "satisfaction": "unsatisfied"})
    assert r.status_code == 200 and "重新办理" in r.text
    desk.session.refresh(t)
    assert t.state == S.handling and t.reopened == 1


def test_a_bad_survey_link_says_so(client, desk, cast):
    t = replied_at(desk, cast)
    token = callback.survey_token(desk.settings, t)
    for bad in (token[:-2] + "zz", t.number, "x" * 300):
        r = client.get(f"/survey/{bad}")
        assert r.status_code == 404 and "此评价链接无效或已过期" in r.text
        assert forms.post(client, f"/survey/{bad}", data={"contacted": "1"}).status_code == 404


def test_the_ticket_page_shows_the_survey_link_to_the_centre(client, desk, cast):
    t = replied_at(desk, cast)
    token = callback.survey_token(desk.settings, t)
    login(client, "callback")
    assert f"/survey/{token}" in client.get(f"/tickets/{t.number}").text
    forms.post(client, "/logout")
    login(client, "handler")
    page = client.get(f"/tickets/{t.number}").text
    assert t.number in page and "/survey/" not in page
    answer(desk, cast, t)
    forms.post(client, "/logout")
    login(client, "callback")
    assert "/survey/" not in client.get(f"/tickets/{t.number}").text  # answered: no link any more


# --- the assessment ------------------------------------------------------------------------------

def test_the_ranking_with_drill_down_links(client, city):
    login(client, "supervisor")
    r = client.get("/assessment", params={"month": MONTH, "level": "street"})
    assert r.status_code == 200
    html = r.text
    rows = ranking_rows(html)
    assert len(rows) == 2
    assert "观音寺街道办事处" in rows[0] and re.search(r"<td>1\s", rows[0]) and "末位" not in rows[0]
    assert "兴丰街道办事处" in rows[1] and re.search(r"<td>2\s", rows[1]) and "末位" in rows[1]
    assert "100.0%" in rows[0] and "50.0%" in rows[1]  # resolution: 2 of 2, 1 of 2
    assert "大兴区" in rows[0]
    # every count links to the tickets behind it
    link = f"/assessment/behind?month={MONTH}&amp;level=street&amp;key={STREET}&amp;measure=valid"
    assert link in rows[0]
    behind = client.get(link.replace("&amp;", "&"))
    assert behind.status_code == 200 and "观音寺街道办事处" in behind.text
    assert sorted(numbers_on(behind.text)) == sorted(city["good"])
    unresolved = client.get("/assessment/behind", params={"month": MONTH, "level": "street", "key": OTHER_STREET,
                                                          "measure": "unresolved"})
    assert numbers_on(unresolved.text) == [city["bad"][1]]
    for number in numbers_on(behind.text):
        assert client.get(f"/tickets/{number}").status_code == 200
    # the city's figures, the formulas as configured
    assert "75.0%" in html  # resolution over the city: 3 of 4
    assert "综合得分 = 100 × (0.1 × 响应率 + 0 × 联系率 + 0.5 × 解决率 + 0.4 × 满意率)" in html
    assert "响应率 = 签收时限内签收数 / 计入派单量" in html
    # each street signed its two tickets at once: 2 of 2; the city 4 of 4, and 77.50 = 0.1 x 100 + 0.5 x 75 + 0.4 x 75
    response = cell(rows[0], "response")
    assert response.startswith("100.0%") and "measure=dispatched\" title=\"计入派单量\">2</a>" in response
    assert "77.50" in html
    city_valid = client.get("/assessment/behind", params={"month": MONTH, "measure": "valid"})
    assert len(numbers_on(city_valid.text)) == 4


def test_the_response_rate_is_signing_and_the_contact_rate_stands_apart(client, signing):
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH, "level": "street"}).text
    rows = ranking_rows(html)
    assert len(rows) == 2
    xingfeng, guanyinsi = rows  # 100.00 ranks above 93.33
    assert "兴丰街道办事处" in xingfeng and "观音寺街道办事处" in guanyinsi
    # 观音寺: 1 of 3 counted dispatches signed in time (the pending one is not counted); 1 of 2 citizens contacted
    response = cell(guanyinsi, "response")
    assert response.startswith("33.3%")
    assert f"key={STREET}&amp;measure=dispatched\" title=\"计入派单量\">3</a>" in response
    assert f"key={STREET}&amp;measure=not_in_time\" title=\"未按时签收\">2</a>" in response
    contact = cell(guanyinsi, "contact")
    assert contact.startswith("50.0%") and "measure=contacted\" title=\"已联系市民\">1</a>" in contact
    assert "measure=not_contacted\" title=\"未联系市民\">1</a>" in contact
    # 100 x (0.1 x 1/3 + 0.5 x 1 + 0.4 x 1) = 93.33
    assert "<b>93.33</b>" in guanyinsi
    # 兴丰: no dispatch in September, so no response rate (not 0 %); its composite is the other rates' (0.9 of the
    # weights, scaled up to 1): 100
    response = cell(xingfeng, "response")
    assert response.startswith("—") and "%" not in response and "measure=not_in_time" not in response
    assert cell(xingfeng, "contact").startswith("100.0%") and "<b>100.00</b>" in xingfeng
    # the city: 1 of 3 signed in time, 3 of 4 contacted; the pending dispatch said apart
    cards = html[html.index('<div class="cards">'):html.index('<h2 id="ranking">')]
    assert re.search(r"<b>33.3%</b><span>响应率</span>", cards) and re.search(r"<b>75.0%</b><span>联系率</span>", cards)
    assert "measure=not_in_time\">未按时签收 2</a>" in cards and "measure=dispatched\">计入派单量 3</a>" in cards
    assert "measure=pending\">暂不计入（未到签收时限或退单待审） 1</a>" in html


def behind_rows(html: str) -> list[list[str]]:
    """The drill-down's rows, each as its cells' text."""
    body = html[html.index("<tbody>", html.index('<table class="behind')):html.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_not_in_time_drill_down_lists_the_late_and_unsigned_with_their_times(client, signing):
    login(client, "supervisor")
    params = {"month": MONTH, "level": "street", "key": STREET}
    page = client.get("/assessment/behind", params={**params, "measure": "not_in_time"})
    assert page.status_code == 200 and "观音寺街道办事处 · 未按时签收" in page.text
    assert "共 2 件工单" in page.text
    # ticket, unit, dispatched, sign by, signed, counted as: Beijing time (the clock's 02:00 UTC is 10:00)
    assert behind_rows(page.text) == [
        [signing["late"], "观音寺街道办事处", "2024-09-30 10:00", "2024-09-30 11:00", "2024-09-30 12:00", "超时签收"],
        [signing["missed"], "观音寺街道办事处", "2024-09-30 10:00", "2024-09-30 11:00", "—", "逾期未签收"]]
    assert 'datetime="2024-09-30T10:00:00+08:00"' in page.text
    dispatched = client.get("/assessment/behind", params={**params, "measure": "dispatched"}).text
    assert numbers_on(dispatched) == [signing["on_time"], signing["late"], signing["missed"]]
    pending = client.get("/assessment/behind", params={**params, "measure": "pending"}).text
    assert [r[0] for r in behind_rows(pending)] == [signing["pending"]] and "待签收（未到时限）" in pending
    # a callback measure keeps its own columns: the callback's time, and whether the unit contacted the citizen
    contacted = client.get("/assessment/behind", params={**params, "measure": "not_contacted"}).text
    assert [r[0] for r in behind_rows(contacted)] == [signing["late"]] and "<th>联系</th>" in contacted
    none = client.get("/assessment/behind", params={**params, "key": OTHER_STREET, "measure": "dispatched"}).text
    assert "共 0 件工单" in none and numbers_on(none) == []
    english = client.get("/assessment/behind", params={**params, "measure": "not_in_time", "lang": "en"}).text
    assert "Not signed in time" in english and "Signed late" in english and "Sign by" in english


def test_the_district_and_department_levels(client, city):
    login(client, "supervisor")
    district = client.get("/assessment", params={"month": MONTH, "level": "district"}).text
    assert "大兴区" in district
    assert "/assessment/behind?month=2024-09&amp;level=district&amp;key=110115000000" in district
    behind = client.get("/assessment/behind", params={"month": MONTH, "level": "district", "key": "110115000000"})
    assert len(numbers_on(behind.text)) == 4
    assert client.get("/assessment", params={"month": MONTH, "level": "department"}).status_code == 200


def test_early_in_a_month_the_page_opens_on_last_month(client, city, clock):
    login(client, "supervisor")
    assert "先显示上月排名" not in client.get("/assessment").text  # September ranks: it is shown as it is
    clock.advance(timedelta(days=2))  # 2 October: nobody has October's minimum sample yet
    login(client, "supervisor")  # the login of two days ago has expired
    html = client.get("/assessment").text
    assert "2024-10 尚无单位达到最低样本量，先显示上月排名" in html
    assert f"<small class=\"muted\">{MONTH}</small>" in html and re.search(r"<td>1\s", html)
    assert 'href="/assessment?level=district"' in html  # the other levels pick their own default month
    asked = client.get("/assessment", params={"month": "2024-10"}).text  # a month asked for is shown as it is
    assert "先显示上月排名" not in asked and "<small class=\"muted\">2024-10</small>" in asked


def test_the_charts_are_plotly_served_from_here(client, city):
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH}).text
    assert '<script src="/static/vendor/plotly.min.js"></script>' in html
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']?(https?:)?//""", html)  # nothing from elsewhere
    charts = charts_of(html)
    bars = charts["chart-ranking"]["data"]
    assert [b["type"] for b in bars] == ["bar"]
    assert bars[0]["y"] == ["观音寺街道办事处（大兴区）", "兴丰街道办事处（大兴区）"]
    assert bars[0]["x"][0] == 100.0 and bars[0]["x"][1] < 100.0
    trend = charts["chart-trend"]
    assert trend["data"][0]["x"] == ["2024-04", "2024-05", "2024-06", "2024-07", "2024-08", "2024-09"]
    assert [line["name"] for line in trend["data"]] == ["响应率", "联系率", "解决率", "满意率", "综合得分"]
    assert [line["y"][-1] for line in trend["data"]] == [100.0, 100.0, 75.0, 75.0, 77.5]
    assert trend["data"][0]["y"][:5] == [None] * 5  # no callbacks before: no rate, not 0
    js = client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "plotly.js" in js.text[:300] and len(js.content) > 1_000_000
    assert js.content == assessment_pages.plotly_js_path().read_bytes()
    again = client.get("/static/vendor/plotly.min.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304
    plain = client.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert len(plain.content) == len(js.content)


def test_the_supervision_lists(client, desk, cast, clock):
    late = desk.new(cast.operator)
    desk.act(cast.dispatcher, late, Step.dispatch, unit=STREET)  # never signed
    reopened = replied_at(desk, cast)
    answer(desk, cast, reopened, Resolution.unresolved, Satisfaction.unsatisfied)
    clock.advance(timedelta(hours=30))
    jobs.tick(desk.session, desk.clock, desk.settings)
    desk.session.refresh(late)
    assert late.sign_overdue
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH}).text
    sign = html[html.index('id="sign-overdue"'):html.index('id="reply-overdue"')]
    assert late.number in numbers_on(sign)
    units = html[html.index('<table class="supervision reopened">'):]
    assert "观音寺街道办事处" in units and reopened.number in numbers_on(units)
    # the district scope
    other = client.get("/assessment", params={"month": MONTH, "district": "110114000000"}).text
    assert late.number not in other


@pytest.mark.parametrize("params, field", [
    ({"month": "2024-13"}, "month"), ({"month": "abc"}, "month"), ({"month": MONTH, "level": "x"}, "level"),
    ({"month": "2024-13", "level": "moon"}, "month")])
def test_bad_parameters_are_refused_naming_the_field(client, city, params, field):
    """Not silently replaced by this month or the streets: the page would show another ranking than asked for."""
    login(client, "supervisor")
    for path in ("/assessment", "/assessment/export.csv", "/assessment/export.xlsx"):
        r = client.get(path, params=params)
        assert r.status_code == 422, path
        assert "请求参数有误" in r.text and f"参数 {field} 的值无效。" in r.text, path
        assert "content-disposition" not in r.headers, path


def test_bad_parameters(client, city):
    login(client, "supervisor")
    r = client.get("/assessment")  # no month: this month, as before
    assert r.status_code == 200 and 'value="2024-09"' in r.text
    assert client.get("/assessment/behind", params={"month": MONTH, "measure": "everything"}).status_code == 422
    assert client.get("/assessment/behind", params={"month": "last", "measure": "valid"}).status_code == 422
    assert client.get("/assessment/behind", params={"month": MONTH, "key": "no-such-unit"}).status_code == 422


def test_in_english(client, city):
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH, "lang": "en"}).text
    assert "Assessment and supervision" in html and "Composite score" in html and "Subdistrict" in html
    assert "composite = 100 x (0.1 x response + 0 x contact" in html
    assert "Response rate" in html and "Contact rate" in html
    login(client, "callback")
    assert "Callback desk" in client.get("/callbacks").text


def test_closed_tickets_of_the_city_are_the_ones_counted(session, city):
    closed = session.scalars(select(Ticket.number).where(Ticket.state == S.closed)).all()
    assert sorted(closed) == sorted(city["good"] + city["bad"][:1])


# --- what a new user's review found ----------------------------------------------------------------

def test_at_a_level_without_data_the_cards_say_they_are_the_citys_and_no_empty_chart(client, city):
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH, "level": "department"}).text
    # the cards are the whole city's, whatever the level, and say so
    cards = html[html.index('<h2 id="city">'):html.index('<h2 id="ranking">')]
    assert "全市" in cards and "不随考核层级变化" in cards and re.search(r"<b>4</b><span>有效回访量</span>", cards)
    # no department has data: the message, once, and neither an empty chart under a title nor an empty table
    ranking = html[html.index('<h2 id="ranking">'):html.index('<h2 id="trend">')]
    assert ranking.count("本月还没有考核数据。") == 1
    assert 'id="chart-ranking"' not in ranking and '<table class="ranking">' not in ranking
    assert "chart-ranking" not in charts_of(html) and "chart-trend" in charts_of(html)
    streets = client.get("/assessment", params={"month": MONTH, "level": "street"}).text
    assert 'id="chart-ranking"' in streets and "本月还没有考核数据。" not in streets


def test_partly_resolved_and_basically_satisfied_counts_link_to_their_tickets(client, desk, cast, city):
    t = replied_at(desk, cast, STREET)
    answer(desk, cast, t, Resolution.partly, Satisfaction.basically)
    login(client, "supervisor")
    rows = ranking_rows(client.get("/assessment", params={"month": MONTH, "level": "street"}).text)
    guanyinsi = next(r for r in rows if "观音寺街道办事处" in r)
    for measure, label in (("partly", "部分解决"), ("basically", "基本满意")):
        link = f"/assessment/behind?month={MONTH}&amp;level=street&amp;key={STREET}&amp;measure={measure}"
        assert f'<a class="count" href="{link}" title="{label}">1</a>' in guanyinsi, measure
        assert numbers_on(client.get(link.replace("&amp;", "&")).text) == [t.number], measure
    other = next(r for r in rows if "兴丰街道办事处" in r)
    assert "measure=partly" not in other and "measure=basically" not in other  # none: no link to nothing


def test_a_ticket_signed_late_leaves_the_sign_overdue_list(client, desk, cast, clock):
    waiting, signed = desk.new(cast.operator), desk.new(cast.operator)
    for t in (waiting, signed):
        desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    clock.advance(timedelta(hours=2))  # past both sign deadlines
    jobs.tick(desk.session, desk.clock, desk.settings)
    desk.act(cast.handler, signed, Step.sign)  # late
    desk.session.refresh(signed)
    assert signed.sign_overdue and signed.signed_at is not None  # the flag stays on the ticket
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH}).text
    sign = html[html.index('id="sign-overdue"'):html.index('id="reply-overdue"')]
    assert numbers_on(sign) == [waiting.number] and "共 1 件" in sign
    assert '<a class="card" href="#sign-overdue"><b>1</b>' in html
    # the home page's card counts the same tickets
    assert re.search(r'class="card waiting-sign_overdue[^"]*"[^>]*data-count="1"', client.get("/").text)


def test_a_ticket_replied_late_leaves_the_reply_overdue_list(client, desk, cast, clock):
    waiting, replied = desk.new(cast.operator), desk.new(cast.operator)
    for t in (waiting, replied):
        desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
        desk.act(cast.handler, t, Step.sign)
    clock.advance(timedelta(days=30))  # past both reply deadlines
    jobs.tick(desk.session, desk.clock, desk.settings)
    desk.act(cast.handler, replied, Step.reply, text="已督促餐馆加装油烟净化器")  # late
    desk.session.refresh(replied)
    assert replied.reply_overdue and replied.state == S.replied
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH}).text
    reply = html[html.index('id="reply-overdue"'):html.index('id="escalated"')]
    assert numbers_on(reply) == [waiting.number] and "共 1 件" in reply
    assert re.search(r'class="card waiting-reply_overdue[^"]*"[^>]*data-count="1"', client.get("/").text)


def test_on_a_phone_the_secondary_columns_go_and_the_times_wrap(client, signing):
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH, "level": "street"}).text
    head = html[html.index('<table class="ranking">'):html.index("</thead>")]
    minor = re.findall(r'<th class="minor">(.*?)</th>', head)
    # the contact rate too, while it is outside the composite (its weight 0, the default)
    assert minor == ["类别", "所在区", "区内名次", "联系率", "环比", "未联系上", "退单审核通过"]
    row = ranking_rows(html)[0]
    assert len(re.findall(r'<td class="[^"]*\bminor\b', row)) == len(minor)
    css = client.get("/static/assessment.css").text
    phone = css[css.index("@media (max-width: 600px)"):]
    assert "table.ranking .minor { display: none; }" in phone
    assert "table.behind time .clock { display: block; }" in phone
    behind = client.get("/assessment/behind", params={"month": MONTH, "key": STREET, "measure": "not_in_time"}).text
    assert ('<time datetime="2024-09-30T11:00:00+08:00"><span class="day"><span class="year">2024-</span>09-30'
            '</span> <span class="clock">11:00</span></time>') in behind
    assert "table.behind time .year { display: none; }" in phone  # the month's year, in the crumbs


def test_the_month_chips_name_each_month_once(client, city):
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH}).text
    start = html.index('<nav class="chips"')
    chips = html[start:html.index("</nav>", start)]
    months = re.findall(r"\d{4}-\d{2}", re.sub(r"<[^>]+>", " ", chips))
    assert months == ["2024-03", "2024-04", "2024-05", "2024-06", "2024-07", "2024-08", "2024-09", "2024-10"]
    assert f'href="/assessment?month={MONTH}&amp;level=street" class="on"' in chips


def test_a_page_past_the_last_shows_the_last(client, city, monkeypatch):
    monkeypatch.setattr(assessment_pages, "PAGE_SIZE", 1)
    login(client, "supervisor")
    html = client.get("/assessment/behind", params={"month": MONTH, "key": STREET, "measure": "valid",
                                                    "page": 99}).text
    assert "第 2 / 2 页" in html and "没有工单。" not in html
    shown = numbers_on(html)
    assert len(shown) == 1 and shown[0] in city["good"]


def test_the_source_line_and_the_trend_title_in_both_languages(client, city):
    login(client, "supervisor")
    zh = client.get("/assessment", params={"month": MONTH}).text
    assert "数据来源：实时计算" in zh
    assert charts_of(zh)["chart-trend"]["layout"]["title"]["text"] == "全市各率与综合得分走势（近 6 个月）"
    en = client.get("/assessment", params={"month": MONTH, "lang": "en"}).text
    assert "Source: computed live" in en and "Source：" not in en
    assert "Not counted as valid callbacks: " in en and "Not counted as dispatches: " in en
    assert charts_of(en)["chart-trend"]["layout"]["title"]["text"] == \
        "City-wide rates and composite score, last 6 months"
