"""The operator console's suggestion and new fields, and the callback desk's cards, on SQLite and PostgreSQL.

The console: the page's script asks POST /api/v1/routing/suggest with the login cookie and the page's CSRF
token (without it the write-shaped request is refused); without JavaScript the 查找答案/查看建议 button shows the
same suggestion; a call filed as a ticket keeps the urgency, anonymity and no-callback the operator chose.
The desk: each card shows the unit's reply and the timeline's last three steps, read without one statement per
ticket."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, select

from jiesu.callback import service as callback
from jiesu.config import Settings
from jiesu.taxonomy.models import Urgency
from jiesu.tickets import jobs
from jiesu.tickets.models import Request, Ticket
from jiesu.tickets.rules import Step
from tests import forms
from tests.integration.test_assessment_pages import login, replied_at

STREET = "110115009000"  # 大兴区观音寺街道
GROUP_RENTAL = ("首座御园二里5号楼有群租房，一套房住了二十多人，楼道堆满杂物，存在消防隐患，希望有关部门尽快处理。",
                "大兴区首座御园二里5号楼")
META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def settings(trained_var: Path) -> Settings:
    # The session's trained classifier: the suggestion names a category.
    return Settings(var_dir=trained_var, secret_key="test-secret", database_url="sqlite://")


def page_token(client) -> str:
    """The token the console's script reads from the page's meta tag."""
    found = META.search(client.get("/console").text)
    assert found, "the console has no csrf-token meta tag"
    return found.group(1)


def suggest(client, token: str | None, **body):
    headers = {"X-CSRF-Token": token} if token else {}
    return client.post("/api/v1/routing/suggest", json=body, headers=headers)


# --- the console -----------------------------------------------------------------------------------------

def test_the_console_script_gets_the_suggestion_before_the_ticket_exists(client, cast, session):
    login(client, "operator")
    page = client.get("/console").text
    assert 'id="suggest"' in page and 'src="/static/console.js"' in page
    assert 'name="urgency"' in page and 'name="anonymous"' in page and 'name="no_callback"' in page
    english = client.get("/console", params={"lang": "en"}).text
    assert "Keyboard shortcuts" in english and "No callback" in english
    client.get("/console", params={"lang": "zh_CN"})
    tickets_before = session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    text, address = GROUP_RENTAL
    assert suggest(client, None, text=text, address=address).status_code == 403  # the cookie alone writes nothing
    r = suggest(client, page_token(client), text=text, address=address, contact_phone="13800000001")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["category_name"] == "城乡建设" and s["category_reasons"]
    assert s["main_unit"]["code"] == STREET and s["place"]["street_code"] == STREET and not s["place"]["ambiguous"]
    assert s["urgency"] == "normal" and s["duplicates"] == []
    assert session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) == tickets_before  # nothing stored
    ambiguous = suggest(client, page_token(client), text="香屯村的路面坑洼很多，下雨天积水出行困难",
                        address="香屯村").json()
    assert ambiguous["place"]["ambiguous"] and len(ambiguous["place"]["alternatives"]) >= 2
    assert ambiguous["main_unit"] is None and ambiguous["manual"]


def test_without_javascript_the_button_shows_the_suggestion_with_the_ambiguity_said(client, cast):
    login(client, "operator")
    r = forms.post(client, "/console", {"action": "search", "text": "香屯村的路面坑洼很多，下雨天积水出行困难",
                                        "request_type": "complaint", "address": "香屯村", "urgency": "emergency"},
                   page="/console")
    assert r.status_code == 200
    panel = r.text[r.text.index('id="suggest"'):]
    assert "地名有歧义" in panel and "将进入人工派单" in panel
    alternatives = re.findall(r"<li>([^<]*香屯村[^<]*)</li>", panel)
    assert len(alternatives) >= 2 and any("昌平区" in a for a in alternatives), alternatives
    assert '<option value="emergency" selected>' in r.text  # what the operator chose is kept
    text, address = GROUP_RENTAL
    r = forms.post(client, "/console", {"action": "search", "text": text, "request_type": "complaint",
                                        "address": address}, page="/console")
    panel = r.text[r.text.index('id="suggest"'):]
    assert "城乡建设" in panel and "观音寺街道" in panel and "地名有歧义" not in panel


def _file(client, **fields):
    text, address = GROUP_RENTAL
    data = {"action": "ticket", "text": text, "request_type": "complaint", "address": address,
            "contact_name": "张三", "contact_phone": "13800000001", **fields}
    return forms.post(client, "/console", data, page="/console", follow_redirects=False)


def _ticket(session, response) -> Ticket:
    assert response.status_code == 303, response.text
    number = parse_qs(urlsplit(response.headers["location"]).query)["ticket"][0]
    return session.scalar(select(Ticket).where(Ticket.number == number).execution_options(populate_existing=True))


def test_a_call_filed_as_a_ticket_keeps_urgency_anonymity_and_no_callback(client, cast, session):
    login(client, "operator")
    plain = _ticket(session, _file(client))
    urgent = _ticket(session, _file(client, urgency="emergency", anonymous="1", no_callback="1"))
    quiet = _ticket(session, _file(client, urgency="complex", no_callback="1"))
    rows = {t.number: session.execute(select(Ticket.urgency, Request.anonymous, Request.no_callback,
                                             Request.contact_id.is_not(None))
                                      .join(Request, Request.id == Ticket.request_id)
                                      .where(Ticket.id == t.id)).one() for t in (plain, urgent, quiet)}
    assert tuple(rows[plain.number]) == (Urgency.normal, False, False, True)
    assert tuple(rows[urgent.number]) == (Urgency.emergency, True, True, False)  # anonymous: no contact kept
    assert tuple(rows[quiet.number]) == (Urgency.complex, False, True, True)
    # the intake made the suggestion again: the dispatcher sees it on the ticket
    assert urgent.suggestion and '"main_unit": {"code": "110115009000"' in urgent.suggestion


@pytest.mark.parametrize(("field", "value", "message"), [("urgency", "very", "紧急程度无效"),
                                                         ("anonymous", "2", "匿名应为勾选或不勾选")])
def test_a_bad_field_is_named_and_nothing_is_filed(client, cast, session, field, value, message):
    login(client, "operator")
    before = session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    r = _file(client, **{field: value})
    assert r.status_code == 422 and message in r.text
    assert session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) == before


# --- the callback desk's cards ----------------------------------------------------------------------------

def _statements(session, client, path: str) -> tuple[str, int]:
    seen = []
    connection = session.connection()

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        page = client.get(path).text
    finally:
        event.remove(connection, "before_cursor_execute", count)
    return page, len(seen)


def test_each_card_shows_the_reply_and_the_last_steps_without_a_statement_per_ticket(client, desk, cast, session):
    first = replied_at(desk, cast, text="楼下餐馆油烟扰民")
    jobs.tick(desk.session, desk.clock, desk.settings)
    login(client, "callback")
    client.get("/callbacks")  # the login's first page reads the user once; the next ones use the cache
    page, one = _statements(session, client, "/callbacks")
    card = page[page.index(f'id="t-{first.number}"'):]
    card = card[:card.index("</article>")]
    assert "单位答复" in card and "已督促餐馆加装油烟净化器" in card
    steps = re.findall(r"<li><time[^>]*>[^<]*</time> <b>([^<]+)</b>\s*<span class=\"muted\">([^<]+)</span></li>", card)
    assert [label for label, _ in steps] == ["签收", "答复", "进入回访队列"], steps
    assert steps[-1][1] == "系统" and steps[0][1] == "handler · 承办人"  # the clock's step is the system's
    for _ in range(3):
        replied_at(desk, cast, text="小区门口占道经营")
    jobs.tick(desk.session, desk.clock, desk.settings)
    page, four = _statements(session, client, "/callbacks")
    assert page.count('class="reply-text"') == 4 and page.count('class="last-steps"') == 4
    assert four == one  # the page's reads do not grow with its tickets


def test_the_reply_is_read_even_when_it_is_older_than_the_steps_asked(desk, cast):
    t = replied_at(desk, cast)
    jobs.tick(desk.session, desk.clock, desk.settings)
    [item], total = callback.queue(desk.session, cast.callback, steps=1)
    assert total == 1 and item.ticket.number == t.number
    assert [e.action for e in item.steps] == [Step.queue_callback.value]  # the reply is not among the last one
    assert item.reply == "已督促餐馆加装油烟净化器"
    [plain], _ = callback.queue(desk.session, cast.callback)  # the API's queue reads no events
    assert plain.reply == "" and plain.steps == []
