"""The demo simulator (jiesu seed demo), on SQLite and PostgreSQL: every state, through the real workflow."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from jiesu.data.teddy import PLACEHOLDER, localise
from jiesu.demo import DEMO_USER, seed_demo
from jiesu.errors import InvalidInput
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Outcome, Request, Ticket, TicketEvent
from jiesu.tickets.rules import TicketState

NOW = datetime(2024, 10, 16, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Beijing, just after the National Day week
COUNT, DAYS = 150, 20


def factory_for(session: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection whose commits are savepoints, rolled back with the test."""
    return sessionmaker(bind=session.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False)


def demo_tickets(session: Session) -> list[Ticket]:
    return list(session.scalars(select(Ticket).join(Request, Ticket.request_id == Request.id)
                                .where(Request.created_by == DEMO_USER)
                                .options(selectinload(Ticket.events), selectinload(Ticket.request))
                                .order_by(Ticket.number)))


CALLBACK_ID = re.compile(r'"callback": \d+')


def fingerprint(connection) -> tuple:
    """What a run wrote, by natural keys (ids differ between runs on PostgreSQL: sequences do not roll back)."""
    rows = connection.execute(
        select(Ticket.number, Ticket.state, Ticket.category_id, Ticket.area_id, Ticket.main_unit_id,
               Ticket.created_at, Ticket.reply_by, Ticket.sign_overdue, Ticket.reply_overdue, Ticket.escalated,
               Request.text, Request.title, Request.request_type, Request.channel)
        .join(Request, Ticket.request_id == Request.id).order_by(Ticket.number)).all()
    events = connection.execute(
        select(Ticket.number, TicketEvent.seq, TicketEvent.at, TicketEvent.actor, TicketEvent.action,
               TicketEvent.to_state, TicketEvent.payload)
        .join(Ticket, TicketEvent.ticket_id == Ticket.id).order_by(Ticket.number, TicketEvent.seq)).all()
    answers = connection.execute(select(Request.created_at, Request.text, Request.answer)
                                 .where(Request.outcome == Outcome.direct_answer)
                                 .order_by(Request.created_at, Request.text)).all()
    # A close names its Callback row by id, which is not a natural key either.
    events = [(*e[:-1], CALLBACK_ID.sub('"callback": _', e[-1])) for e in events]
    return tuple(map(tuple, rows)), tuple(map(tuple, events)), tuple(map(tuple, answers))


def test_seed_demo_makes_every_state_through_the_workflow(session, settings):
    seen = []
    report = seed_demo(factory_for(session), NOW, settings, tickets=COUNT, days=DAYS,
                       progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert not report.skipped
    assert report.tickets == COUNT
    assert report.direct_answers == COUNT // 10
    assert seen[-1] == ("done", COUNT + COUNT // 10, COUNT + COUNT // 10)
    assert [done for stage, done, _ in seen if stage == "tickets"] == sorted(d for s, d, _ in seen if s == "tickets")

    rows = demo_tickets(session)
    assert len(rows) == COUNT
    states = Counter(t.state for t in rows)
    assert set(states) == set(TicketState), states
    assert report.states == {s.value: n for s, n in states.items()}
    assert states[TicketState.closed] > COUNT / 2  # most of three weeks' tickets are done
    assert report.overdue > 0 and report.escalated > 0
    assert sum(t.sign_overdue or t.reply_overdue for t in rows) == report.overdue

    # the event log says what the state is, every step in time order, inside the window
    start = NOW - timedelta(days=DAYS)
    for t in rows:
        assert tickets.replayed_state(t) == t.state, t.number
        assert start <= t.created_at < NOW
        times = [e.at for e in sorted(t.events, key=lambda e: e.seq)]
        assert times == sorted(times) and times[0] == t.created_at and times[-1] <= NOW, t.number
        assert t.number.startswith(t.created_at.astimezone(settings.tz).strftime("%Y%m%d") + "-")
    assert len({t.number for t in rows}) == COUNT

    # the workflow's side steps all happen somewhere
    actions = Counter(e.action for t in rows for e in t.events)
    for action in ("dispatch", "sign", "reply", "queue_callback", "close", "return", "mark_overdue", "escalate",
                   "merge", "withdraw"):
        assert actions[action] > 0, action
    closes = [e for t in rows for e in t.events if e.action == "close"]
    assert any('"satisfied": "satisfied"' in e.payload and '"resolved": true' in e.payload for e in closes)

    # every ticket is categorised at level 3, under one of the corpus's level-1 names
    categories = {c.id: c for c in session.scalars(select(Category))}
    for t in rows:
        if t.state == TicketState.new:  # left for the dispatcher: smart dispatch suggests its category
            assert t.category_id is None and t.suggestion and '"category_code"' in t.suggestion, t.number
            continue
        assert t.category_id is not None and categories[t.category_id].level == 3, t.number
        assert categories[t.category_id].path.split("/")[0] in (
            "城乡建设", "环境保护", "交通运输", "劳动和社会保障", "商贸旅游", "卫生计生", "教育文体")

    # Beijing's places, weighted towards the populous districts; no corpus placeholders left
    districts = Counter(session.scalar(select(Area.name).where(Area.code == t.district_code)) for t in rows)
    assert len(districts) >= 8
    assert districts["朝阳区"] + districts["海淀区"] > districts["延庆区"] + districts["门头沟区"]
    requests = list(session.scalars(select(Request).where(Request.created_by == DEMO_USER)))
    assert len(requests) == COUNT + COUNT // 10
    for r in requests:
        for text in (r.text, r.title, r.answer or ""):
            assert "A市" not in text and "A3区" not in text and not PLACEHOLDER.search(text), (r.id, text[:80])
        assert start <= r.created_at < NOW
    answered = [r for r in requests if r.outcome == Outcome.direct_answer]
    assert len(answered) == COUNT // 10 and all(r.answer for r in answered)

    # a second call adds nothing
    again = seed_demo(factory_for(session), NOW, settings, tickets=COUNT, days=DAYS)
    assert again.skipped and again.events == 0 and "already" in again.message
    assert again.tickets == COUNT
    assert len(demo_tickets(session)) == COUNT


def test_the_same_seed_gives_the_same_city(session, settings):
    connection = session.get_bind()
    runs = []
    for _ in range(2):
        savepoint = connection.begin_nested()
        seed_demo(factory_for(session), NOW, settings, tickets=60, days=10, seed=7)
        runs.append(fingerprint(connection))
        savepoint.rollback()
    assert runs[0] == runs[1]
    assert len(runs[0][0]) == 60
    savepoint = connection.begin_nested()
    seed_demo(factory_for(session), NOW, settings, tickets=60, days=10, seed=8)
    other = fingerprint(connection)
    savepoint.rollback()
    assert other[0] != runs[0][0]


def test_seed_demo_refuses_a_naive_present(settings):
    with pytest.raises(InvalidInput):
        seed_demo(sessionmaker(), NOW.replace(tzinfo=None), settings, tickets=5)  # before touching a database


def test_localise_puts_the_corpus_in_beijing():
    text = "A市A3区桂花坪街道景蓉华苑的物业，西地省A市住房和城乡建设局，A7县各乡镇，电话0731-00000000"
    out = localise(text, "大兴区", "观音寺街道")
    assert out == "北京市大兴区观音寺街道景蓉华苑的物业，北京市住房和城乡建设局，大兴区各乡镇，电话010-00000000"
    assert not PLACEHOLDER.search(out)
    assert localise("IT市场很繁荣", "大兴区", "观音寺街道") == "IT市场很繁荣"  # not a place: left alone


def test_the_demo_logins_work_is_made_the_same_every_time(session, settings):
    """In a demo-sized city the named streets, their departments and the community get their waiting work, part of
    the tickets asked for, the same for the same seed."""
    from jiesu.demo.simulator import NAMED_COMMUNITIES, NAMED_STREETS
    from jiesu.units.models import Unit

    connection = session.get_bind()
    runs = []
    for _ in range(2):
        savepoint = connection.begin_nested()
        report = seed_demo(factory_for(session), NOW, settings, tickets=240, days=3, seed=5)
        assert report.tickets == 240
        runs.append(fingerprint(connection))
        named = [*NAMED_STREETS, *NAMED_COMMUNITIES, *(d for ds in NAMED_STREETS.values() for d in ds)]
        states = set(connection.execute(select(Unit.code, Ticket.state).select_from(Ticket)
                                         .join(Unit, Unit.id == Ticket.main_unit_id).where(Unit.code.in_(named))))
        savepoint.rollback()
        for code in named:
            assert {(code, TicketState.dispatched), (code, TicketState.handling)} <= states, code
    assert runs[0] == runs[1]
