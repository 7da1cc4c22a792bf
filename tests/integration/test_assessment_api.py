"""The assessment's API on SQLite and PostgreSQL, on tickets called back through the desk: the ranking (the
same figures as the export's JSON), the Excel download, trend, the tickets behind a figure, supervision, and
the rollup of a closed month (administrators only)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from jiesu.assessment import export
from jiesu.assessment import service as assessment
from jiesu.assessment.formulas import Formula
from jiesu.callback import service as callback
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.config import Settings
from jiesu.permissions import SYSTEM
from jiesu.tickets import jobs
from jiesu.tickets.models import Ticket, TicketEvent
from jiesu.tickets.rules import Step
from tests.integration.test_tickets import Desk
from tests.stories import PASSWORD

STREET, OTHER, POLICE = "110115009000", "110115001000", "ga-110115"  # 观音寺街道, 兴丰街道, 大兴公安分局
R, S = Resolution, Satisfaction
# 观音寺街道 in September: response 4 signed / 5 dispatched; contact 3/3; resolution 2/3; satisfaction 1.9/3
SEPTEMBER_COMPOSITE = 100 * (0.1 * 4 / 5 + 0.5 * 2 / 3 + 0.4 * 1.9 / 3)


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Two valid callbacks rank a unit here; the last one of each group is named.
    return Settings(var_dir=tmp_path, secret_key="test-secret", database_url="sqlite://", assess_min_sample=2,
                    assess_bottom=1)


def replied_by(desk: Desk, cast, unit: str, handler):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=unit)
    desk.act(handler, t, Step.sign)
    return desk.act(handler, t, Step.reply, text="已处理")


def answer(desk: Desk, cast, ticket, resolution: Resolution, satisfaction: Satisfaction, contacted: bool = True):
    return callback.record(desk.session, cast.callback, desk.clock, desk.settings, ticket.number,
                           callback.Answer(contacted=contacted, resolution=resolution, satisfaction=satisfaction))


def build_city(desk: Desk, cast, clock) -> dict[str, str]:
    """September 2024 (the clock's month) and the first days of October, through the callback desk:
        2024-09 观音寺街道: resolved/satisfied, resolved/basically, unresolved/unsatisfied (reopened), one
                 unreachable after three attempts; 兴丰街道: resolved/satisfied twice; 大兴公安分局: partly/basically,
                 not contacted; and one ticket left unsigned past its deadline.
        2024-10 观音寺街道: the reopened ticket resolved/satisfied, and one more resolved/satisfied.
    Every ticket but the unsigned one is signed at once when dispatched (30 September 10:00, in time): 观音寺街道
    signed 4 of its 5 September dispatches (response 80%), 兴丰街道 2 of 2, the police 1 of 1; in October 观音寺街道
    signed its one dispatch (the reopened ticket went back to it without a new dispatch).
    The clock is left on 2 October."""
    n = {}
    t = replied_by(desk, cast, STREET, cast.handler)
    answer(desk, cast, t, R.resolved, S.satisfied)
    n["ok"] = t.number
    t = replied_by(desk, cast, STREET, cast.handler)
    answer(desk, cast, t, R.resolved, S.basically)
    n["basically"] = t.number
    t = replied_by(desk, cast, STREET, cast.handler)
    out = answer(desk, cast, t, R.unresolved, S.unsatisfied)
    assert out.result == "reopened"
    n["reopened"] = t.number
    t = replied_by(desk, cast, STREET, cast.handler)
    for _ in range(desk.settings.callback_attempts):
        out = callback.record(desk.session, cast.callback, desk.clock, desk.settings, t.number,
                              callback.Answer(reached=False))
    assert out.result == "unreachable"
    n["unreachable"] = t.number
    for i in range(2):
        t = replied_by(desk, cast, OTHER, cast.other_handler)
        answer(desk, cast, t, R.resolved, S.satisfied)
        n[f"other{i}"] = t.number
    t = replied_by(desk, cast, POLICE, cast.police)
    answer(desk, cast, t, R.partly, S.basically, contacted=False)
    n["police"] = t.number
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    n["unsigned"] = t.number
    clock.advance(timedelta(days=2))  # 2024-10-02 10:00 in Beijing
    jobs.tick(desk.session, clock, desk.settings)
    desk.act(cast.handler, n["reopened"], Step.reply, text="再次处理完毕")
    answer(desk, cast, _ticket(desk, n["reopened"]), R.resolved, S.satisfied)
    t = replied_by(desk, cast, STREET, cast.handler)
    answer(desk, cast, t, R.resolved, S.satisfied)
    n["october"] = t.number
    desk.session.flush()
    return n


def _ticket(desk: Desk, number: str) -> Ticket:
    return desk.session.scalar(select(Ticket).where(Ticket.number == number))


@pytest.fixture
def city(desk, cast, clock) -> dict[str, str]:
    return build_city(desk, cast, clock)


@pytest.fixture
def login(client, cast):
    def headers(username: str) -> dict[str, str]:
        r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return headers


def get(client, path: str, headers: dict, expect: int = 200, **params):
    r = client.get(f"/api/v1/assessment/{path}", params=params, headers=headers)
    assert r.status_code == expect, r.text
    return r


def test_the_street_ranking_has_the_figures_of_the_export(client, session, settings, clock, city, login):
    supervisor = login("supervisor")
    data = get(client, "rates", supervisor, month="2024-09", level="street").json()
    expected = export.to_dict(assessment.ranking(session, SYSTEM, settings, clock, "2024-09", "street"), settings.tz)
    assert data == json.loads(json.dumps(expected))
    assert data["title"] == "2024年9月 街乡镇接诉即办考核排名" and data["source"] == "facts"
    assert data["window"]["start"] == "2024-09-01T00:00:00+08:00" and data["window"]["last_day"] == "2024-09-30"
    rows = {r["key"]: r for r in data["rows"]}
    other, here = rows[OTHER], rows[STREET]
    assert here["name"] == "观音寺街道办事处" and [r["key"] for r in data["rows"]] == [OTHER, STREET]
    assert (other["rank"], other["rank_in_district"], other["composite"], other["bottom"]) == (1, 1, 100.0, False)
    assert (here["rank"], here["rank_in_district"], here["bottom"], here["group"], here["district"]) == (
        2, 2, True, "街道", "大兴区")
    assert (here["valid"], here["contacted"], here["resolved"], here["satisfied"], here["basically"]) == (3, 3, 2, 1, 1)
    # the response rate from signing: the unsigned ticket is a miss; the contact rate from the callbacks, apart
    assert (here["dispatched"], here["signed"], here["late"], here["missed"], here["not_in_time"], here["pending"],
            here["sign_upheld"]) == (5, 4, 0, 1, 1, 0, 0)
    assert here["response"] == pytest.approx(4 / 5) and here["contact"] == 1.0
    assert (other["dispatched"], other["signed"], other["response"], other["contact"]) == (2, 2, 1.0, 1.0)
    assert here["resolution"] == pytest.approx(2 / 3) and here["satisfaction"] == pytest.approx(1.9 / 3)
    assert here["composite"] == pytest.approx(SEPTEMBER_COMPOSITE)
    assert here["unreachable"] == 1 and here["previous"] is None and here["change"] is None
    assert data["excluded"]["unreachable"] == 1 and data["totals"]["all"]["valid"] == 6
    table, everyone = data["totals"]["table"], data["totals"]["all"]
    assert table["valid"] == 5 and (table["dispatched"], table["signed"], table["missed"]) == (7, 6, 1)
    assert table["response"] == pytest.approx(6 / 7) and table["contact"] == 1.0
    # the city: the police's dispatch signed too, its callback not contacted
    assert (everyone["dispatched"], everyone["signed"]) == (8, 7) and everyone["response"] == pytest.approx(7 / 8)
    assert everyone["contact"] == pytest.approx(5 / 6)
    assert data["formulas"] == Formula().describe() and data["formulas"][2] == (
        "响应率 = 签收时限内签收数 / 计入派单量")
    assert data["formula"]["weight_contact"] == 0.0 and data["measures"] == list(assessment.ALL_MEASURES)


def test_month_on_month_and_departments_below_the_minimum(client, city, login):
    supervisor = login("supervisor")
    october = get(client, "rates", supervisor, month="2024-10").json()
    [here] = october["rows"]
    assert here["key"] == STREET and here["valid"] == 2 and here["composite"] == 100.0
    assert (here["dispatched"], here["signed"], here["response"]) == (1, 1, 1.0)
    assert here["previous"] == pytest.approx(SEPTEMBER_COMPOSITE)
    assert here["change"] == pytest.approx(100 - here["previous"]) and not here["bottom"]
    departments = get(client, "rates", supervisor, month="2024-09", level="department").json()
    [police] = departments["rows"]
    assert police["group"] == "市级部门" and police["valid"] == 1 and police["rank"] is None
    # signed at once, but the citizen said no one contacted them: responded in time, not contacted
    assert police["response"] == 1.0 and police["contact"] == 0.0 and police["dispatched"] == 1
    assert police["resolution"] == 0.0 and police["ranked"] is False
    districts = get(client, "rates", supervisor, month="2024-09", level="district").json()
    assert [(r["name"], r["valid"], r["rank"]) for r in districts["rows"]] == [("大兴区", 6, 1)]
    assert [(r["dispatched"], r["signed"], r["response"]) for r in districts["rows"]] == [(8, 7, pytest.approx(7 / 8))]
    empty = get(client, "rates", supervisor, month="2023-03").json()
    assert empty["rows"] == [] and empty["totals"]["all"]["composite"] is None
    assert empty["totals"]["all"]["response"] is None and empty["totals"]["all"]["contact"] is None


def test_a_rate_without_a_counted_dispatch_is_empty_not_0(client, desk, cast, city, login):
    # 兴丰街道 in October: one dispatch, its sign deadline still ahead (pending), no callback yet
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=OTHER)
    desk.session.flush()
    october = get(client, "rates", login("supervisor"), month="2024-10").json()
    other = {r["key"]: r for r in october["rows"]}[OTHER]
    assert (other["dispatched"], other["pending"], other["valid"]) == (0, 1, 0)
    assert other["response"] is None and other["contact"] is None and other["composite"] is None
    assert october["totals"]["all"]["pending"] == 1 and october["totals"]["all"]["response"] == 1.0
    pending = get(client, "behind", login("supervisor"), month="2024-10", key=OTHER, measure="pending").json()
    assert [(i["number"], i["kind"], i["signed_at"]) for i in pending["items"]] == [(t.number, "sign_pending", None)]


def test_the_excel_download(client, city, login):
    r = get(client, "rates.xlsx", login("handler"), month="2024-09", level="street")
    assert r.headers["content-type"] == export.XLSX_MEDIA_TYPE
    assert 'filename="assessment-street-2024-09.xlsx"' in r.headers["content-disposition"]
    ws = load_workbook(BytesIO(r.content))["考核排名"]
    assert ws["A1"].value == "2024年9月 街乡镇接诉即办考核排名"
    names = [ws.cell(row, 3).value for row in range(1, ws.max_row + 1)]
    assert names.index("兴丰街道办事处") + 1 == names.index("观音寺街道办事处")


def test_the_tickets_behind_a_figure(client, city, login):
    supervisor = login("supervisor")
    out = get(client, "behind", supervisor, month="2024-09", level="street", key=STREET, measure="unsatisfied").json()
    assert out["total"] == 1 and [i["number"] for i in out["items"]] == [city["reopened"]]
    [item] = out["items"]
    assert (item["kind"], item["resolution"], item["satisfaction"], item["contacted"]) == (
        "callback", "unresolved", "unsatisfied", True)
    assert item["unit_code"] == STREET and item["unit_name"] == "观音寺街道办事处" and item["state"] == "closed"
    valid = get(client, "behind", supervisor, month="2024-09", key=STREET).json()
    assert valid["total"] == 3 and {i["number"] for i in valid["items"]} == {
        city["ok"], city["basically"], city["reopened"]}
    page = get(client, "behind", supervisor, month="2024-09", key=STREET, limit=2, offset=2).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    unreachable = get(client, "behind", supervisor, month="2024-09", key=STREET, measure="unreachable").json()
    assert [i["number"] for i in unreachable["items"]] == [city["unreachable"]]
    assert unreachable["items"][0]["kind_label"] == "未联系上" and unreachable["items"][0]["resolution"] is None
    # a department's figure is its district branches' tickets
    police = get(client, "rates", supervisor, month="2024-09", level="department").json()["rows"][0]
    behind = get(client, "behind", supervisor, month="2024-09", level="department", key=police["key"]).json()
    assert [i["number"] for i in behind["items"]] == [city["police"]] and behind["items"][0]["unit_code"] == POLICE
    district = get(client, "behind", supervisor, month="2024-09", level="district", key="110115000000").json()
    assert district["total"] == 6
    get(client, "behind", supervisor, 422, month="2024-09", key="no-such-unit")
    get(client, "behind", supervisor, 422, month="2024-09", measure="everything")


def test_the_tickets_behind_the_response_rate(client, session, city, login):
    supervisor = login("supervisor")
    late = get(client, "behind", supervisor, month="2024-09", key=STREET, measure="not_in_time").json()
    assert late["total"] == 1 and [i["number"] for i in late["items"]] == [city["unsigned"]]
    [item] = late["items"]
    assert (item["kind"], item["kind_label"], item["signed_at"]) == ("sign_missed", "逾期未签收", None)
    assert item["contacted"] is None and item["resolution"] is None and item["unit_code"] == STREET
    sent = session.scalar(select(TicketEvent).join(Ticket).where(Ticket.number == city["unsigned"],
                                                                 TicketEvent.action == "dispatch"))
    assert item["dispatched_at"] == item["at"] == "2024-09-30T02:00:00Z" == sent.at.isoformat().replace(
        "+00:00", "Z")
    assert item["sign_by"] == json.loads(sent.payload)["sign_by"].replace("+00:00", "Z")
    assert item["sign_by"] < "2024-10-02T02:00:00Z"  # past, on the clock's 2 October
    signed = get(client, "behind", supervisor, month="2024-09", key=STREET, measure="signed").json()
    assert {i["number"] for i in signed["items"]} == {city["ok"], city["basically"], city["reopened"],
                                                      city["unreachable"]}
    assert {(i["kind"], i["kind_label"], i["signed_at"]) for i in signed["items"]} == {
        ("sign_on_time", "按时签收", "2024-09-30T02:00:00Z")}
    dispatched = get(client, "behind", supervisor, month="2024-09", key=STREET, measure="dispatched").json()
    assert dispatched["total"] == 5 and city["unsigned"] in {i["number"] for i in dispatched["items"]}
    # the whole district's: 观音寺街道's unsigned ticket only; nothing pending, nothing late
    district = get(client, "behind", supervisor, month="2024-09", level="district", key="110115000000",
                   measure="not_in_time").json()
    assert [i["number"] for i in district["items"]] == [city["unsigned"]]
    assert get(client, "behind", supervisor, month="2024-09", measure="late").json()["total"] == 0
    assert get(client, "behind", supervisor, month="2024-09", measure="pending").json()["total"] == 0


def test_trend(client, city, login):
    out = get(client, "trend", login("supervisor"), month="2024-10", months=3, level="street").json()
    assert [p["period"] for p in out["points"]] == ["2024-08", "2024-09", "2024-10"]
    assert out["points"][0]["rows"] == [] and out["points"][0]["total"]["composite"] is None
    assert out["points"][0]["total"]["response"] is None
    september = {r["name"]: r for r in out["points"][1]["rows"]}
    here = september["观音寺街道办事处"]
    assert september["兴丰街道办事处"]["composite"] == 100.0 and here["composite"] == pytest.approx(66.6667, abs=1e-3)
    assert here["response"] == pytest.approx(4 / 5) and here["contact"] == 1.0
    total = out["points"][1]["total"]  # the city's: the police signed, did not contact
    assert total["response"] == pytest.approx(7 / 8) and total["contact"] == pytest.approx(5 / 6)
    assert out["points"][2]["total"]["composite"] == 100.0


def test_supervision(client, city, login):
    out = get(client, "supervision", login("supervisor"), month="2024-09").json()
    assert [t["number"] for t in out["sign_overdue"]] == [city["unsigned"]]
    assert out["counts"]["sign_overdue"] == 1 and out["sign_overdue"][0]["state_label"] == "待签收"
    assert out["sign_overdue"][0]["unit_code"] == STREET
    [unit] = out["reopened_units"]
    assert (unit["code"], unit["reopen_events"], unit["reopened_twice"]) == (STREET, 1, 0)
    october = get(client, "supervision", login("admin"), month="2024-10", district="110115000000").json()
    assert october["reopened_units"] == [] and october["counts"]["sign_overdue"] == 1


def test_rollup_is_for_administrators_and_closed_months(client, city, login):
    supervisor, admin = login("supervisor"), login("admin")
    live = get(client, "rates", supervisor, month="2024-09").json()
    r = client.post("/api/v1/assessment/rollup", params={"month": "2024-09"}, headers=supervisor)
    assert r.status_code == 403, r.text
    r = client.post("/api/v1/assessment/rollup", params={"month": "2024-09"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["period"] == "2024-09" and r.json()["cells"] >= 3
    kept = get(client, "rates", supervisor, month="2024-09").json()
    assert kept["source"] == "rollup" and kept["rows"] == live["rows"] and kept["totals"] == live["totals"]
    assert get(client, "rates", supervisor, month="2024-09", live="true").json()["source"] == "facts"
    r = client.post("/api/v1/assessment/rollup", params={"month": "2024-10"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "month"


@pytest.mark.parametrize(("path", "params", "field"), [
    ("rates", {"month": "2024-13"}, "month"),
    ("rates", {"month": "0000-01"}, "month"),
    ("rates", {"month": "9999-12"}, "month"),
    ("rates", {"month": "2024-9"}, "month"),
    ("rates", {"month": "2024-09", "level": "city"}, "level"),
    ("rates.xlsx", {"month": "2024-13"}, "month"),
    ("trend", {"month": "0000-01"}, "month"),
    ("trend", {"month": "2024-09", "months": 37}, "months"),
    ("behind", {"month": "2024-00"}, "month"),
    ("behind", {"month": "2024-09", "limit": 0}, "limit"),
    ("supervision", {"month": "1900-01"}, "month"),
])
def test_bad_input_names_the_field(client, cast, login, path, params, field):
    r = get(client, path, login("supervisor"), 422, **params)
    assert r.json()["error"]["field"] == field


def test_who_may_read(client, cast, login):
    assert get(client, "rates", {}, 401, month="2024-09").json()["error"]["code"] == "authentication_failed"
    assert get(client, "rates", login("citizen"), 403, month="2024-09").json()["error"]["code"] == "permission_denied"
    get(client, "rates", login("handler"), month="2024-09")
    r = client.post("/api/v1/assessment/rollup", params={"month": "1000-01"}, headers=login("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "month"
