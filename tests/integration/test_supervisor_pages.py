"""The supervisor's page: the ranking exported as Excel and CSV from buttons on /assessment, and escalation (督办)
from the overdue lists, each row's small form posting the workflow's escalate step."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from jiesu.callback.models import Resolution, Satisfaction
from jiesu.tickets import jobs
from jiesu.tickets.models import TicketEvent
from jiesu.tickets.rules import Step
from tests import forms
from tests.integration.test_assessment_pages import MONTH, answer, login, replied_at, settings  # noqa: F401
from tests.integration.test_tickets import OTHER_STREET, STREET


@pytest.fixture
def ranked(desk, cast):
    """Two streets of 大兴区 called back this month: 观音寺 resolved both, the other one of two."""
    for street in (STREET, STREET, OTHER_STREET):
        answer(desk, cast, replied_at(desk, cast, street))
    answer(desk, cast, replied_at(desk, cast, OTHER_STREET), Resolution.unresolved, Satisfaction.unsatisfied)
    desk.session.commit()


def test_the_page_offers_the_exports(client, ranked):
    login(client, "supervisor")
    html = client.get("/assessment", params={"month": MONTH}).text
    assert f'href="/assessment/export.xlsx?month={MONTH}&amp;level=street"' in html
    assert f'href="/assessment/export.csv?month={MONTH}&amp;level=street"' in html


def test_csv_export(client, ranked):
    login(client, "supervisor")
    r = client.get("/assessment/export.csv", params={"month": MONTH, "level": "street"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == f'attachment; filename="assessment-street-{MONTH}.csv"'
    assert r.content.startswith("\ufeff".encode())  # Excel reads the Chinese right
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert "综合得分" in header
    names = {row[header.index("单位")] for row in body} if "单位" in header else {" ".join(row) for row in body}
    assert any("观音寺街道" in n for n in names)
    guanyinsi = next(row for row in body if any("观音寺街道" in cell for cell in row))
    assert "100.0%" in guanyinsi  # both of its tickets resolved


def test_excel_export(client, ranked):
    login(client, "supervisor")
    r = client.get("/assessment/export.xlsx", params={"month": MONTH, "level": "street"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["content-disposition"] == f'attachment; filename="assessment-street-{MONTH}.xlsx"'
    wb = load_workbook(io.BytesIO(r.content))
    cells = [str(c) for row in wb.worksheets[0].iter_rows(values_only=True) for c in row if c is not None]
    assert any("观音寺街道" in c for c in cells)


def test_exports_need_a_login_and_a_known_format(client, cast):
    r = client.get("/assessment/export.csv", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/assessment/export.csv")
    login(client, "citizen")
    assert client.get("/assessment/export.csv").status_code == 403
    login(client, "supervisor")
    assert client.get("/assessment/export.pdf").status_code == 404
    # no month: this month's (street) ranking, as the page shows; a nonsense month or level is refused, not replaced
    r = client.get("/assessment/export.csv")
    assert r.status_code == 200 and 'filename="assessment-street-2024-09.csv"' in r.headers["content-disposition"]
    r = client.get("/assessment/export.csv", params={"month": "2024-13"})
    assert r.status_code == 422 and "参数 month 的值无效。" in r.text and "content-disposition" not in r.headers
    assert client.get("/assessment/export.xlsx", params={"month": MONTH, "level": "y"}).status_code == 422


FORM = re.compile(r'<form class="escalate" method="post" action="/tickets/([0-9-]+)/steps/escalate">(.*?)</form>',
                  re.S)


def test_overdue_lists_offer_escalation_to_who_may(client, desk, cast):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.clock.advance(timedelta(hours=2))  # past the sign deadline
    jobs.tick(desk.session, desk.clock, desk.settings)
    desk.session.commit()
    login(client, "supervisor")
    html = client.get("/assessment").text
    found = {number: body for number, body in FORM.findall(html)}
    assert t.number in found
    body = found[t.number]
    assert 'name="csrf_token"' in body and 'name="reason"' in body and "required" in body
    version = re.search(r'name="expected_version" value="(\d+)"', body).group(1)
    assert int(version) == desk.session.get(type(t), t.id).version
    assert 'name="next" value="/assessment?level=street"' in body
    login(client, "operator")  # may read the assessment, may not escalate: no form
    assert FORM.search(client.get("/assessment").text) is None


def escalations(desk, t) -> list[tuple[str, str]]:
    stmt = select(TicketEvent.actor, TicketEvent.reason).where(TicketEvent.ticket_id == t.id,
                                                                TicketEvent.action == "escalate")
    return [tuple(row) for row in desk.session.execute(stmt.order_by(TicketEvent.seq))]


def test_escalating_from_the_overdue_list(client, desk, cast):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.clock.advance(timedelta(hours=2))
    jobs.tick(desk.session, desk.clock, desk.settings)
    desk.session.commit()
    login(client, "supervisor")
    body = dict(FORM.findall(client.get("/assessment").text))[t.number]
    fields = dict(re.findall(r'<input type="hidden" name="(expected_version|next)" value="([^"]*)">', body))
    data = {**fields, "next": fields["next"].replace("&amp;", "&"), "reason": "超时未签收，请立即签收办理"}
    r = forms.post(client, f"/tickets/{t.number}/steps/escalate", data, page="/assessment", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/assessment?level=street&done=escalate"
    page = client.get(r.headers["location"]).text
    assert "督办已记录" in page
    escalated = page[page.index('id="escalated"'):page.index('id="reopened"')]
    assert t.number in escalated
    assert escalations(desk, t) == [("supervisor", "超时未签收，请立即签收办理")]
    # the same form posted again (a double click) is refused on its stale version: escalated once
    again = forms.post(client, f"/tickets/{t.number}/steps/escalate", data, page="/assessment", follow_redirects=False)
    assert again.status_code == 409
    assert len(escalations(desk, t)) == 1
    # a reason is needed
    fresh = dict(re.findall(r'name="(expected_version)" value="(\d+)"',
                            dict(FORM.findall(client.get("/assessment").text))[t.number]))
    blank = forms.post(client, f"/tickets/{t.number}/steps/escalate", {**data, **fresh, "reason": " "},
                       page="/assessment", follow_redirects=False)
    assert blank.status_code == 422
