"""Tickets on SQLite and PostgreSQL: intake, numbers, idempotency, every workflow step and its guards,
who sees what, personal data; and a random walk through the transition table that checks, after every
attempt, that the ticket's state is the replay of its event log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from jiesu.calendar.service import load_calendar
from jiesu.callback import service as callback
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.errors import (
    ConcurrentChange,
    DomainError,
    InvalidInput,
    PermissionDenied,
    TicketNotFound,
    TransitionNotAllowed,
)
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import rules, service
from jiesu.tickets.models import (
    Channel,
    Outcome,
    PersonalDataAccess,
    Request,
    SummonsState,
    Ticket,
    TicketEvent,
    UnitRole,
)
from jiesu.tickets.rules import Step
from jiesu.tickets.rules import TicketState as S
from jiesu.units import auth, users
from tests.stories import PASSWORD, Hotline, at, bj

STREET = "110115009000"  # 观音寺街道
OTHER_STREET = "110115001000"  # 兴丰街道
DISTRICT = "110115000000"  # 大兴区人民政府
POLICE, CHENGGUAN, HOUSING = "ga-110115", "cgzf-110115", "zj-110115"


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@dataclass
class Cast:
    operator: Actor
    dispatcher: Actor
    handler: Actor  # the street's
    other_handler: Actor  # another street's
    district: Actor  # the district government's: gets copies
    police: Actor
    chengguan: Actor
    housing: Actor
    callback: Actor
    supervisor: Actor
    citizen: Actor
    other_citizen: Actor
    admin: Actor


CAST = {"operator": (Role.operator, None), "dispatcher": (Role.dispatcher, None),
        "handler": (Role.unit_handler, STREET), "other_handler": (Role.unit_handler, OTHER_STREET),
        "district": (Role.unit_handler, DISTRICT), "police": (Role.unit_handler, POLICE),
        "chengguan": (Role.unit_handler, CHENGGUAN), "housing": (Role.unit_handler, HOUSING),
        "callback": (Role.callback_agent, None), "supervisor": (Role.supervisor, None),
        "citizen": (Role.citizen, None), "other_citizen": (Role.citizen, None), "admin": (Role.admin, None)}


@pytest.fixture
def cast(session, clock) -> Cast:
    made = {name: users.actor_of(users.create(session, SYSTEM, clock, username=name.replace("_", "-"),
                                              password=PASSWORD, role=role, unit_code=unit))
            for name, (role, unit) in CAST.items()}
    return Cast(**made)


def consistent(session, ticket: Ticket) -> list[TicketEvent]:
    """The event log in the database: seq 1..n, each event starting where the last ended, replaying to
    the ticket's state; and the ticket's loaded events are the same log."""
    rows = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                .order_by(TicketEvent.seq)))
    assert [e.seq for e in rows] == list(range(1, len(rows) + 1))
    assert rules.replay((e.from_state, e.to_state) for e in rows) == ticket.state
    assert service.replayed_state(ticket) == ticket.state
    assert sorted(e.id for e in ticket.events) == [e.id for e in rows]
    assert ticket.version == len(rows)  # one version per event: every step moves it on once
    return rows


class Desk:
    """The service layer, with the consistency check after every step."""

    def __init__(self, session, clock, settings) -> None:
        self.session, self.clock, self.settings = session, clock, settings

    def new(self, actor: Actor, key: str | None = None, **fields) -> Ticket:
        base = dict(text="楼下餐馆油烟扰民", request_type=RequestType.complaint, channel=Channel.hotline,
                    area_code=STREET, contact_name="张三", contact_phone="13800000000")
        intake = service.create_request(self.session, actor, self.clock, self.settings,
                                        service.NewRequest(**(base | fields)), key)
        consistent(self.session, intake.ticket)
        return intake.ticket

    def act(self, actor: Actor, ticket: Ticket | str, step: Step, **data) -> Ticket:
        number = ticket if isinstance(ticket, str) else ticket.number
        t = service.act(self.session, actor, self.clock, self.settings, number, step, service.StepInput(**data))
        rows = consistent(self.session, t)
        assert rows[-1].action == step.value and rows[-1].actor == actor.username
        return t

    def refused(self, error: type[DomainError], actor: Actor, ticket: Ticket | str, step: Step,
                field: str | None = None, **data) -> DomainError:
        """The step fails with `error`, and leaves the ticket and its log as they were."""
        number = ticket if isinstance(ticket, str) else ticket.number
        t = self.session.scalar(select(Ticket).where(Ticket.number == number))
        before = (t.state, t.version, len(consistent(self.session, t))) if t else None
        with pytest.raises(error) as exc, self.session.begin_nested():
            service.act(self.session, actor, self.clock, self.settings, number, step, service.StepInput(**data))
        if field is not None:
            assert exc.value.field == field
        if t is not None:
            assert (t.state, t.version, len(consistent(self.session, t))) == before
        return exc.value

    def calendar(self):
        return load_calendar(self.session, self.settings)

    def called_back(self, actor: Actor, ticket: Ticket) -> Ticket:
        """The callback desk records a resolved, satisfied citizen: the close a replied ticket takes (issue 15)."""
        out = callback.record(self.session, actor, self.clock, self.settings, ticket.number, callback.Answer(
            contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.satisfied))
        assert out.result == "closed"
        consistent(self.session, out.ticket)
        return out.ticket


@pytest.fixture
def desk(session, clock, settings) -> Desk:
    return Desk(session, clock, settings)


def handling(desk: Desk, cast: Cast, **fields) -> Ticket:
    t = desk.new(cast.operator, **fields)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    return desk.act(cast.handler, t, Step.sign)


def replied(desk: Desk, cast: Cast) -> Ticket:
    t = handling(desk, cast)
    return desk.act(cast.handler, t, Step.reply, text="已处理")


# --- intake ---------------------------------------------------------------------------------------

def test_a_request_becomes_a_new_ticket(desk, cast, clock):
    t = desk.new(cast.operator, urgency=Urgency.normal)
    assert t.state == S.new
    assert t.number == "20240930-000001"
    assert t.created_at == clock.now()
    assert t.dispatch_by == clock.now() + timedelta(hours=2)
    assert t.district_code == DISTRICT and t.area.code == STREET
    assert t.request.outcome == Outcome.ticket and t.request.created_by == "operator"
    [e] = t.events
    assert (e.seq, e.action, e.from_state, e.to_state, e.role) == (1, "create", None, S.new, "operator")
    assert json.loads(e.payload) == {"channel": "hotline", "type": "complaint"}


@pytest.mark.parametrize(("fields", "field"), [
    ({"text": "   "}, "text"),
    ({"text": "字" * 4001}, "text"),
    ({"title": "t" * 201}, "title"),
    ({"address": "a" * 257}, "address"),
    ({"lng": 116.3}, "lat"),
    ({"lat": 39.9}, "lng"),
    ({"lng": 200.0, "lat": 39.9}, "lng"),
    ({"lng": 116.3, "lat": 95.0}, "lat"),
    ({"contact_phone": "call me maybe"}, "contact_phone"),
    ({"contact_name": "名" * 65}, "contact_name"),
    ({"area_code": "999999999999"}, "area_code"),
    ({"direct_answer": "请拨打110"}, "direct_answer"),  # a complaint is not answered directly
    ({"request_type": RequestType.inquiry, "direct_answer": "  "}, "direct_answer"),
])
def test_bad_requests_name_the_field(desk, cast, fields, field):
    with pytest.raises(InvalidInput) as exc:
        desk.new(cast.operator, **fields)
    assert exc.value.field == field


def test_an_inquiry_answered_at_once_makes_no_ticket(desk, cast, session):
    intake = service.create_request(session, cast.operator, desk.clock, desk.settings, service.NewRequest(
        text="社保卡丢了怎么补办？", request_type=RequestType.inquiry, channel=Channel.hotline,
        direct_answer="携带身份证到就近社保服务网点补办"))
    assert intake.ticket is None
    assert intake.request.outcome == Outcome.direct_answer
    assert intake.request.answer == "携带身份证到就近社保服务网点补办"
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_an_anonymous_request_keeps_no_contact_and_wants_no_callback(desk, cast):
    t = desk.new(cast.operator, anonymous=True)
    assert t.request.contact is None and t.request.no_callback


def test_numbers_count_per_day_in_beijing(desk, cast, clock):
    first, second = desk.new(cast.operator), desk.new(cast.operator)
    assert (first.number, second.number) == ("20240930-000001", "20240930-000002")
    clock.set(bj("2023-03-11 23:30"))  # 15:30 UTC: still the 11th in Beijing
    assert desk.new(cast.operator).number == "20230311-000001"
    clock.set(bj("2023-03-12 00:30"))  # 16:30 UTC on the 11th: the 12th in Beijing, a new count
    assert desk.new(cast.operator).number == "20230312-000001"
    clock.set(bj("2023-03-11 23:59"))
    assert desk.new(cast.operator).number == "20230311-000002"


def test_the_same_idempotency_key_returns_the_first_ticket(desk, cast, session):
    first = desk.new(cast.operator, key="call-0001")
    base = dict(text="楼下餐馆油烟扰民", request_type=RequestType.complaint, channel=Channel.hotline,
                area_code=STREET, contact_name="张三", contact_phone="13800000000")
    again = service.create_request(session, cast.operator, desk.clock, desk.settings, service.NewRequest(**base),
                                   "call-0001")
    assert again.replayed and again.ticket is first and again.request.text == "楼下餐馆油烟扰民"
    assert session.scalar(select(func.count()).select_from(Request)) == 1
    with pytest.raises(InvalidInput) as exc:  # the same key with another request: refused (issue 15, defect 10)
        service.create_request(session, cast.operator, desk.clock, desk.settings,
                               service.NewRequest(**(base | {"text": "另一段文字"})), "call-0001")
    assert exc.value.field == "Idempotency-Key" and exc.value.status == 422
    with pytest.raises(InvalidInput) as exc:
        desk.new(cast.operator, key="k" * 129)
    assert exc.value.field == "Idempotency-Key"


def test_an_idempotency_key_does_not_hand_out_another_users_ticket(desk, cast, session):
    mine = desk.new(cast.citizen, key="app-42")
    theirs = service.create_request(session, cast.other_citizen, desk.clock, desk.settings,
                                    service.NewRequest(text="x", request_type=RequestType.help, channel=Channel.app),
                                    "app-42")
    assert not theirs.replayed and theirs.ticket.number != mine.number  # a key is its sender's own


# --- the workflow, step by step -------------------------------------------------------------------

def test_dispatch_to_a_street_copies_the_district_and_sets_the_deadlines(desk, cast, clock):
    t = desk.new(cast.operator)
    clock.advance(timedelta(minutes=20))  # 10:20 on Monday 30 September 2024
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET, co_units=[POLICE, STREET])
    assert t.state == S.dispatched and t.main_unit.code == STREET and t.dispatched_at == clock.now()
    assert {(tu.unit.code, tu.role) for tu in t.units} == {(DISTRICT, UnitRole.copy), (POLICE, UnitRole.co)}
    assert t.sign_by == clock.now() + timedelta(hours=1)
    # 7 business days over the National Day week: 30 Sep, 8-12 Oct (12th a make-up Saturday), 14th, 15th.
    assert t.reply_by == desk.calendar().add_business_days(clock.now(), 7) == bj("2024-10-15 10:20")
    assert json.loads(t.events[-1].payload)["unit_name"] == "观音寺街道办事处"
    desk.refused(TransitionNotAllowed, cast.dispatcher, t, Step.dispatch, unit=OTHER_STREET)


@pytest.mark.parametrize(("data", "field"), [
    ({}, "unit"), ({"unit": "nowhere"}, "unit"), ({"unit": "12345"}, "unit"),
    ({"unit": STREET, "co_units": ["nowhere"]}, "co_units"),
])
def test_dispatch_needs_a_real_handling_unit(desk, cast, data, field):
    t = desk.new(cast.operator)
    desk.refused(InvalidInput, cast.dispatcher, t, Step.dispatch, field=field, **data)
    assert t.main_unit_id is None and t.dispatched_at is None and t.units == []


def test_only_the_centre_dispatches(desk, cast):
    t = desk.new(cast.operator)
    for who in (cast.operator, cast.callback, cast.supervisor):
        desk.refused(PermissionDenied, who, t, Step.dispatch, unit=STREET)
    desk.refused(TicketNotFound, cast.handler, t, Step.dispatch, unit=STREET)  # units do not see new tickets


def test_sign_by_the_main_unit_only(desk, cast, clock):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET, co_units=[POLICE])
    desk.refused(PermissionDenied, cast.district, t, Step.sign, field="ticket")  # copied: sees it, may not sign
    desk.refused(PermissionDenied, cast.police, t, Step.sign, field="ticket")  # co-unit
    desk.refused(TicketNotFound, cast.other_handler, t, Step.sign)  # another street does not even see it
    desk.refused(PermissionDenied, cast.dispatcher, t, Step.sign, field="role")
    clock.advance(timedelta(minutes=5))
    desk.act(cast.handler, t, Step.sign)
    assert t.state == S.handling and t.signed_at == clock.now()
    desk.refused(TransitionNotAllowed, cast.handler, t, Step.sign, field="state")


def test_return_upheld_goes_to_another_unit(desk, cast, clock):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.sign)
    desk.refused(InvalidInput, cast.handler, t, Step.return_, field="reason", reason="  ")
    desk.act(cast.handler, t, Step.return_, reason="不属于本街道辖区")
    assert t.state == S.returned
    desk.refused(PermissionDenied, cast.handler, t, Step.uphold_return, unit=OTHER_STREET, reason="r")
    desk.refused(InvalidInput, cast.dispatcher, t, Step.uphold_return, field="unit", unit=STREET, reason="核实")
    clock.advance(timedelta(hours=1))
    desk.act(cast.dispatcher, t, Step.uphold_return, unit=OTHER_STREET, reason="核实属兴丰街道")
    assert t.state == S.dispatched and t.main_unit.code == OTHER_STREET and t.signed_at is None
    assert t.sign_by == clock.now() + timedelta(hours=1)
    assert t.reply_by == desk.calendar().add_business_days(clock.now(), 7)
    desk.refused(TicketNotFound, cast.handler, t, Step.sign)  # the first street no longer has it
    desk.act(cast.other_handler, t, Step.sign)


def test_a_redispatch_leaves_the_old_units_business_behind(desk, cast, clock):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.sign)
    desk.act(cast.handler, t, Step.whistle, units=[POLICE, CHENGGUAN], reason="联合执法")
    desk.act(cast.police, t, Step.summons_report, text="已到场")
    desk.act(cast.handler, t, Step.request_extension, reason="需协调", days=3)
    desk.act(cast.handler, t, Step.return_, reason="不属于本街道")
    desk.act(cast.dispatcher, t, Step.uphold_return, unit="110114116000", reason="属昌平兴寿镇")
    kept = {(tu.unit.code, tu.role.value) for tu in t.units}
    assert (POLICE, "summoned") in kept  # it reported: part of the record
    assert (CHENGGUAN, "summoned") not in kept  # it had not: released, the new unit decides
    assert ("110114000000", "copy") in kept  # the new unit's district gets its copy
    assert t.extension_days_requested is None and not t.reply_overdue
    assert t.state == service.replayed_state(t)


def test_a_reply_ends_a_pending_extension_request(desk, cast):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.sign)
    desk.act(cast.handler, t, Step.request_extension, reason="需协调", days=3)
    desk.act(cast.handler, t, Step.reply, text="已处理")
    assert t.extension_days_requested is None
    desk.act(cast.callback, t, Step.reopen, reason="未解决")
    desk.refused(TransitionNotAllowed, cast.dispatcher, t, Step.approve_extension)


def test_return_rejected_goes_back_to_the_same_unit_with_its_reply_deadline(desk, cast, clock):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    reply_by = t.reply_by
    desk.act(cast.handler, t, Step.return_, reason="非本单位职责")
    clock.advance(timedelta(hours=3))
    desk.refused(InvalidInput, cast.dispatcher, t, Step.reject_return, field="reason")
    desk.act(cast.dispatcher, t, Step.reject_return, reason="属街道属地管理职责")
    assert t.state == S.dispatched and t.main_unit.code == STREET
    assert t.sign_by == clock.now() + timedelta(hours=1) and t.reply_by == reply_by
    desk.act(cast.handler, t, Step.sign)


def test_an_extension_moves_the_reply_deadline_by_business_days(desk, cast):
    t = handling(desk, cast)
    reply_by = t.reply_by
    desk.refused(TransitionNotAllowed, cast.dispatcher, t, Step.approve_extension)  # nothing asked yet
    desk.refused(InvalidInput, cast.handler, t, Step.request_extension, field="days", reason="施工", days=0)
    desk.refused(InvalidInput, cast.handler, t, Step.request_extension, field="days", reason="施工", days=31)
    desk.act(cast.handler, t, Step.request_extension, reason="需协调施工单位", days=3)
    assert t.extension_days_requested == 3 and t.reply_by == reply_by
    desk.refused(TransitionNotAllowed, cast.handler, t, Step.request_extension, reason="再延", days=1)
    desk.refused(PermissionDenied, cast.handler, t, Step.approve_extension)
    desk.act(cast.dispatcher, t, Step.approve_extension)
    assert t.reply_by == desk.calendar().add_business_days(reply_by, 3) == bj("2024-10-18 10:00")
    assert t.extensions == 1 and t.extension_days_requested is None and not t.reply_overdue
    assert json.loads(t.events[-1].payload)["days"] == 3


def test_an_extension_rejected_leaves_the_deadline(desk, cast):
    t = handling(desk, cast)
    reply_by = t.reply_by
    desk.act(cast.handler, t, Step.request_extension, reason="需协调", days=2)
    desk.refused(InvalidInput, cast.dispatcher, t, Step.reject_extension, field="reason")
    desk.act(cast.dispatcher, t, Step.reject_extension, reason="可在期限内办结")
    assert t.reply_by == reply_by and t.extensions == 0 and t.extension_days_requested is None
    desk.refused(TransitionNotAllowed, cast.dispatcher, t, Step.reject_extension, reason="again")


def test_whistle_blocks_the_reply_until_every_summoned_unit_reported(desk, cast):
    t = handling(desk, cast)
    desk.refused(TicketNotFound, cast.police, t, Step.summons_sign)  # not summoned yet: not its ticket
    desk.refused(InvalidInput, cast.handler, t, Step.whistle, field="units", units=[STREET], reason="r")
    desk.refused(InvalidInput, cast.handler, t, Step.whistle, field="units", units=[POLICE, "nowhere"], reason="r")
    assert [tu.unit.code for tu in t.units if tu.role == UnitRole.summoned] == []
    desk.refused(PermissionDenied, cast.district, t, Step.whistle, units=[POLICE], reason="r")
    desk.act(cast.handler, t, Step.whistle, units=[POLICE, CHENGGUAN], reason="联合执法")
    desk.refused(InvalidInput, cast.handler, t, Step.whistle, field="units", units=[POLICE], reason="again")
    assert json.loads(t.events[-1].payload)["unit_names"] == ["北京市公安局大兴区分局", "大兴区城市管理综合行政执法局"]
    desk.refused(TransitionNotAllowed, cast.handler, t, Step.reply, field="units", text="已办")
    desk.refused(TicketNotFound, cast.housing, t, Step.summons_sign)  # not summoned
    desk.refused(PermissionDenied, cast.handler, t, Step.summons_sign, field="ticket")  # the street itself
    desk.act(cast.police, t, Step.summons_sign)
    desk.refused(TransitionNotAllowed, cast.police, t, Step.summons_sign)
    desk.refused(InvalidInput, cast.police, t, Step.summons_report, field="text")
    desk.act(cast.police, t, Step.summons_report, text="已出警")
    desk.refused(TransitionNotAllowed, cast.police, t, Step.summons_report, text="again")
    desk.refused(TransitionNotAllowed, cast.handler, t, Step.reply, text="已办")  # 城管 has not reported
    desk.act(cast.chengguan, t, Step.summons_report, text="已拆除")  # reporting without signing first counts
    states = {tu.unit.code: (tu.state, tu.report) for tu in t.units if tu.role == UnitRole.summoned}
    assert states == {POLICE: (SummonsState.reported, "已出警"), CHENGGUAN: (SummonsState.reported, "已拆除")}
    assert all(tu.signed_at is not None for tu in t.units if tu.role == UnitRole.summoned)
    desk.act(cast.handler, t, Step.reply, text="联合执法已完成")
    assert t.state == S.replied


def test_reopen_after_an_unresolved_callback(desk, cast, clock):
    t = replied(desk, cast)
    first_reply_by = t.reply_by
    desk.refused(PermissionDenied, cast.handler, t, Step.reopen, reason="r")
    desk.refused(InvalidInput, cast.callback, t, Step.reopen, field="reason", resolved=False)
    clock.advance(timedelta(days=2))  # Wednesday 2 October, a holiday
    desk.act(cast.callback, t, Step.reopen, reason="市民表示问题未解决", resolved=False)
    assert t.state == S.handling and t.reopened == 1 and t.replied_at is None
    assert t.reply_by == desk.calendar().add_business_days(clock.now(), 7) > first_reply_by
    assert json.loads(t.events[-1].payload)["resolved"] is False
    desk.act(cast.handler, t, Step.reply, text="再次处理")
    desk.called_back(cast.callback, t)
    assert t.state == S.closed and t.closed_at == clock.now()
    desk.act(cast.callback, t, Step.reopen, reason="又反弹了", resolved=False)  # a closed ticket may be reopened
    assert t.reopened == 2 and t.closed_at is None


def test_close_only_after_a_reply_and_by_the_callback_desk(desk, cast):
    t = handling(desk, cast)
    desk.refused(TransitionNotAllowed, cast.callback, t, Step.close, field="state", resolved=True)
    desk.act(cast.handler, t, Step.reply, text="已处理")
    desk.refused(PermissionDenied, cast.handler, t, Step.close, resolved=True)
    desk.refused(PermissionDenied, cast.supervisor, t, Step.close, resolved=True)
    desk.refused(TransitionNotAllowed, cast.callback, t, Step.close, field="callback", resolved=True)  # by hand
    desk.called_back(cast.callback, t)
    payload = json.loads(t.events[-1].payload)
    assert (payload["resolved"], payload["satisfied"], payload["callback"] > 0) == (True, "satisfied", True)


def test_merge_a_duplicate_into_an_open_parent(desk, cast):
    parent = desk.new(cast.operator)
    child = desk.new(cast.citizen, text="油烟太大了")
    desk.refused(InvalidInput, cast.dispatcher, child, Step.merge, field="parent")
    desk.refused(InvalidInput, cast.dispatcher, child, Step.merge, field="parent", parent="20990101-000001")
    desk.refused(InvalidInput, cast.dispatcher, child, Step.merge, field="parent", parent=child.number)
    desk.act(cast.dispatcher, child, Step.merge, parent=parent.number, reason="重复诉求")
    assert child.state == S.merged and child.parent_id == parent.id and child.closed_at is not None
    assert parent.state == S.new  # the parent goes on
    assert json.loads(child.events[-1].payload)["parent"] == parent.number
    # Both traceable: the child names its parent, the parent's children are found by parent_id.
    assert [c.number for c in desk.session.scalars(select(Ticket).where(Ticket.parent_id == parent.id))] == [
        child.number]
    assert service.get(desk.session, cast.citizen, child.number).state == S.merged  # the citizen still sees it
    desk.refused(TransitionNotAllowed, cast.dispatcher, child, Step.merge, parent=parent.number)


def test_merge_needs_an_open_parent(desk, cast):
    closed = replied(desk, cast)
    desk.called_back(cast.callback, closed)
    withdrawn = desk.new(cast.operator)
    desk.act(cast.operator, withdrawn, Step.withdraw, reason="市民撤回")
    child = desk.new(cast.operator)
    for parent in (closed, withdrawn):
        desk.refused(InvalidInput, cast.dispatcher, child, Step.merge, field="parent", parent=parent.number)
    merged = desk.new(cast.operator)
    desk.act(cast.dispatcher, merged, Step.merge, parent=child.number)
    desk.refused(InvalidInput, cast.dispatcher, child, Step.merge, field="parent", parent=merged.number)


def test_escalate(desk, cast):
    t = handling(desk, cast)
    desk.refused(PermissionDenied, cast.callback, t, Step.escalate, reason="r")
    desk.refused(InvalidInput, cast.supervisor, t, Step.escalate, field="reason")
    desk.act(cast.supervisor, t, Step.escalate, reason="超期未办结，督办")
    assert t.escalated and t.state == S.handling
    desk.act(cast.handler, t, Step.reply, text="已办")
    desk.refused(TransitionNotAllowed, cast.supervisor, t, Step.escalate, reason="r")


def test_withdraw_by_the_creating_citizen_only(desk, cast):
    t = desk.new(cast.citizen, channel=Channel.app)
    desk.refused(TicketNotFound, cast.other_citizen, t, Step.withdraw, reason="不想办了")
    desk.refused(PermissionDenied, cast.dispatcher, t, Step.withdraw, field="role", reason="r")
    desk.refused(InvalidInput, cast.citizen, t, Step.withdraw, field="reason")
    desk.act(cast.citizen, t, Step.withdraw, reason="问题已自行解决")
    assert t.state == S.withdrawn and t.closed_at is not None
    desk.refused(TransitionNotAllowed, cast.citizen, t, Step.withdraw, reason="again")
    late = desk.new(cast.citizen)
    desk.act(cast.dispatcher, late, Step.dispatch, unit=STREET)
    desk.act(cast.handler, late, Step.sign)
    desk.act(cast.handler, late, Step.reply, text="已办")
    desk.refused(TransitionNotAllowed, cast.citizen, late, Step.withdraw, reason="太晚了")


def test_the_clock_steps(desk, cast):
    t = handling(desk, cast)
    desk.refused(PermissionDenied, cast.dispatcher, t, Step.mark_overdue, deadline="sign")
    desk.refused(InvalidInput, SYSTEM, t, Step.mark_overdue, field="deadline", deadline="lunch")
    desk.act(SYSTEM, t, Step.mark_overdue, deadline="reply")
    assert t.reply_overdue and not t.sign_overdue and t.state == S.handling
    desk.refused(TransitionNotAllowed, SYSTEM, t, Step.queue_callback)
    desk.act(cast.handler, t, Step.reply, text="已办")
    desk.act(SYSTEM, t, Step.queue_callback)
    assert t.callback_due
    desk.called_back(cast.callback, t)
    assert not t.callback_due


def test_expected_version_and_unknown_tickets(desk, cast):
    t = desk.new(cast.operator)
    err = desk.refused(ConcurrentChange, cast.dispatcher, t, Step.dispatch, field="expected_version", unit=STREET,
                       expected_version=t.version + 1)
    assert err.code == "concurrent_change" and err.status == 409
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET, expected_version=t.version)
    desk.refused(TicketNotFound, cast.dispatcher, "20240930-999999", Step.dispatch, unit=STREET)


def test_a_unit_sees_its_own_tickets_and_a_citizen_theirs(desk, cast, session):
    mine = desk.new(cast.citizen)
    desk.act(cast.dispatcher, mine, Step.dispatch, unit=STREET)
    theirs = desk.new(cast.other_citizen)
    desk.act(cast.dispatcher, theirs, Step.dispatch, unit=OTHER_STREET)
    f = service.TicketFilter()

    def listed(actor):
        return sorted(t.number for t in service.list_tickets(session, actor, f)[0])

    assert listed(cast.citizen) == [mine.number] and listed(cast.other_citizen) == [theirs.number]
    assert listed(cast.handler) == [mine.number] and listed(cast.other_handler) == [theirs.number]
    assert listed(cast.district) == sorted([mine.number, theirs.number])  # both streets are in 大兴
    assert listed(cast.police) == []
    assert listed(cast.dispatcher) == sorted([mine.number, theirs.number])
    with pytest.raises(TicketNotFound):
        service.get(session, cast.handler, theirs.number)
    with pytest.raises(TicketNotFound):
        service.get(session, cast.citizen, theirs.number)


def test_contact_reads_are_logged(desk, cast, session):
    t = desk.new(cast.operator)
    assert service.mask_phone("13800000000") == "138****0000" and service.mask_name("张三") == "张*"
    with pytest.raises(PermissionDenied):
        service.contact_of(session, cast.handler, desk.clock, t.number, "回访")
    with pytest.raises(InvalidInput):
        service.contact_of(session, cast.callback, desk.clock, t.number, "  ")
    assert session.scalar(select(func.count()).select_from(PersonalDataAccess)) == 0
    contact = service.contact_of(session, cast.callback, desk.clock, t.number, "回访")
    assert (contact.name, contact.phone) == ("张三", "13800000000")
    [row] = service.access_log(session, cast.admin)
    assert (row.actor, row.role, row.ticket_id, row.purpose) == ("callback", "callback_agent", t.id, "回访")
    with pytest.raises(PermissionDenied):
        service.access_log(session, cast.handler)


# --- through HTTP ---------------------------------------------------------------------------------

@pytest.fixture
def hotline(client, session, clock) -> Hotline:
    return Hotline(client, session, clock)


REQUEST = {"text": "楼下餐馆油烟扰民", "request_type": "complaint", "area_code": STREET,
           "contact_name": "张三", "contact_phone": "13800000000"}


def error(r, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert code is None or err["code"] == code, err
    assert field is None or err["field"] == field, err
    return err


@pytest.mark.parametrize(("body", "field"), [
    ({"request_type": "complaint"}, "text"),
    ({"text": "x", "request_type": "gossip"}, "request_type"),
    ({"text": "x", "request_type": "help", "channel": "pigeon"}, "channel"),
    ({"text": "x", "request_type": "help", "lng": 116.3}, "lat"),
    ({"text": "x", "request_type": "help", "contact_phone": "abc"}, "contact_phone"),
    ({"text": "x", "request_type": "help", "area_code": "000"}, "area_code"),
    ({"text": "x", "request_type": "complaint", "direct_answer": "请拨打110"}, "direct_answer"),
])
def test_http_create_names_the_bad_field(hotline, body, field):
    op = hotline.login("op", Role.operator)
    error(hotline.client.post("/api/v1/requests", json=body, headers=op), 422, "invalid_input", field)


def test_http_direct_answer_and_idempotency(hotline, session):
    op = hotline.login("op", Role.operator)
    out = hotline.create(op, text="社保卡怎么补办", request_type="inquiry", direct_answer="到社保网点补办")
    assert out["ticket"] is None and out["outcome"] == "direct_answer" and out["direct_answer"] == "到社保网点补办"
    r1 = hotline.client.post("/api/v1/requests", json=REQUEST, headers=op | {"Idempotency-Key": "retry-1"})
    r2 = hotline.client.post("/api/v1/requests", json=REQUEST, headers=op | {"Idempotency-Key": "retry-1"})
    assert r1.status_code == r2.status_code == 201
    assert "idempotent-replayed" not in r1.headers and r2.headers["Idempotent-Replayed"] == "true"
    assert r2.json()["replayed"] is True and r1.json()["replayed"] is False
    assert r1.json()["ticket"]["number"] == r2.json()["ticket"]["number"]
    assert r2.json()["ticket"]["text"] == REQUEST["text"]
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    error(hotline.client.post("/api/v1/requests", json=REQUEST, headers=op | {"Idempotency-Key": "k" * 129}),
          422, "invalid_input")


def test_http_steps_and_their_errors(hotline, clock):
    op, disp = hotline.login("op", Role.operator), hotline.login("disp", Role.dispatcher)
    street = hotline.login("street", Role.unit_handler, STREET)
    district = hotline.login("district", Role.unit_handler, DISTRICT)
    other = hotline.login("other", Role.unit_handler, OTHER_STREET)
    number = hotline.create(op, **REQUEST)["ticket"]["number"]
    error(hotline.client.post("/api/v1/tickets/20240930-999999/dispatch", json={"unit": STREET}, headers=disp),
          404, "ticket_not_found")
    error(hotline.client.post(f"/api/v1/tickets/{number}/dispatch", json={"unit": STREET}), 401)
    hotline.step(op, number, "dispatch", expect=403, unit=STREET)
    err = hotline.step(disp, number, "dispatch", expect=409, unit=STREET, expected_version=7)
    assert err["error"]["code"] == "concurrent_change" and err["error"]["field"] == "expected_version"
    hotline.step(disp, number, "dispatch", expect=422, unit="nowhere")
    t = hotline.step(disp, number, "dispatch", unit=STREET, expected_version=1)
    assert t["version"] == 2 and at(t["sign_by"]) == clock.now() + timedelta(hours=1)
    assert {(u["code"], u["role"]) for u in t["units"]} == {(DISTRICT, "copy")}
    hotline.get(other, number, expect=404)
    assert hotline.get(district, number)["main_unit_code"] == STREET
    hotline.step(district, number, "sign", expect=403)
    hotline.step(other, number, "sign", expect=404)
    hotline.step(street, number, "sign")
    hotline.step(street, number, "sign", expect=409)
    hotline.step(street, number, "request_extension", expect=422, reason="r", days=0)
    hotline.step(street, number, "reply", expect=422)
    t = hotline.step(street, number, "reply", text="已处理")
    assert t["state"] == "replied" and t["version"] == 4


def test_http_visibility_and_personal_data(hotline):
    citizen, other = hotline.login("cit", Role.citizen), hotline.login("cit2", Role.citizen)
    disp, cb = hotline.login("disp", Role.dispatcher), hotline.login("cb", Role.callback_agent)
    street, admin = hotline.login("street", Role.unit_handler, STREET), hotline.login("root", Role.admin)
    mine = hotline.create(citizen, **REQUEST, channel="app")["ticket"]
    theirs = hotline.create(other, **REQUEST | {"contact_phone": "13900001111"})["ticket"]
    assert mine["contact"] == {"name": "张*", "phone": "138****0000", "masked": True}

    def numbers(who, **params):
        r = hotline.client.get("/api/v1/tickets", params=params, headers=who)
        assert r.status_code == 200, r.text
        return [t["number"] for t in r.json()["items"]]

    assert numbers(citizen) == [mine["number"]] and numbers(other) == [theirs["number"]]
    assert sorted(numbers(disp)) == sorted([mine["number"], theirs["number"]])
    hotline.get(other, mine["number"], expect=404)
    hotline.step(disp, mine["number"], "dispatch", unit=STREET)
    assert numbers(street) == [mine["number"]]
    hotline.get(street, theirs["number"], expect=404)
    assert hotline.get(street, mine["number"])["contact"]["phone"] == "138****0000"

    path = f"/api/v1/tickets/{mine['number']}/contact"
    error(hotline.client.get(path, params={"purpose": "回访"}, headers=street), 403, "permission_denied")
    error(hotline.client.get(path, headers=cb), 422, "invalid_input", "purpose")
    r = hotline.client.get(path, params={"purpose": "回访核实"}, headers=cb)
    assert r.status_code == 200 and r.json() == {"name": "张三", "phone": "13800000000", "masked": False}
    log = hotline.client.get("/api/v1/personal-data-access", headers=admin)
    assert log.status_code == 200
    assert [(a["actor"], a["role"], a["purpose"]) for a in log.json()] == [("cb", "callback_agent", "回访核实")]
    error(hotline.client.get("/api/v1/personal-data-access", headers=street), 403)
    hotline.step(other, mine["number"], "withdraw", expect=404, reason="不要了")
    assert hotline.step(citizen, mine["number"], "withdraw", reason="不要了")["state"] == "withdrawn"


def test_http_merge_keeps_both_traceable(hotline):
    op, disp = hotline.login("op", Role.operator), hotline.login("disp", Role.dispatcher)
    parent = hotline.create(op, **REQUEST)["ticket"]["number"]
    child = hotline.create(op, **REQUEST | {"text": "同一家餐馆油烟"})["ticket"]["number"]
    error(hotline.client.post(f"/api/v1/tickets/{child}/merge", json={"parent": child}, headers=disp),
          422, "invalid_input", "parent")
    merged = hotline.step(disp, child, "merge", parent=parent, reason="重复诉求")
    assert merged["state"] == "merged" and merged["parent_number"] == parent
    assert hotline.get(disp, parent)["merged"] == [child]  # and the parent knows its duplicates
    assert hotline.get(disp, child)["parent_number"] == parent
    assert hotline.get(disp, parent)["state"] == "new"
    hotline.step(disp, parent, "merge", expect=422, parent=child)  # a merged ticket is no parent


# --- a random walk through the table --------------------------------------------------------------

ENDINGS = (Step.merge, Step.withdraw)
WALKERS = ["dispatcher", "handler", "other_handler", "police", "callback", "supervisor", "citizen", "admin"]


def _payloads(parent: str, own: str) -> dict[Step, st.SearchStrategy[dict]]:
    reason = st.sampled_from(["核实情况", "不属本单位", "需要协调", "情况复杂", ""])
    return {
        Step.dispatch: st.fixed_dictionaries({"unit": st.sampled_from([STREET, STREET, OTHER_STREET, "nowhere"]),
                                              "co_units": st.sampled_from([[], [CHENGGUAN]])}),
        Step.sign: st.just({}),
        Step.return_: st.fixed_dictionaries({"reason": reason}),
        Step.uphold_return: st.fixed_dictionaries({"unit": st.sampled_from([STREET, OTHER_STREET]),
                                                   "reason": reason}),
        Step.reject_return: st.fixed_dictionaries({"reason": reason}),
        Step.note: st.fixed_dictionaries({"text": st.sampled_from(["进展", "进展", ""])}),
        Step.request_extension: st.fixed_dictionaries({"reason": reason,
                                                       "days": st.sampled_from([1, 2.5, 7, 0, 31])}),
        Step.approve_extension: st.just({}),
        Step.reject_extension: st.fixed_dictionaries({"reason": reason}),
        Step.whistle: st.fixed_dictionaries({"units": st.sampled_from([[POLICE], [POLICE], [POLICE, HOUSING], [],
                                                                       [STREET]]), "reason": reason}),
        Step.summons_sign: st.just({}),
        Step.summons_report: st.fixed_dictionaries({"text": st.sampled_from(["已到场处置", "已到场处置", ""])}),
        Step.reply: st.fixed_dictionaries({"text": st.sampled_from(["已办结", "已办结", ""])}),
        Step.close: st.fixed_dictionaries({"resolved": st.booleans()}),
        Step.reopen: st.fixed_dictionaries({"reason": reason, "resolved": st.just(False)}),
        Step.merge: st.fixed_dictionaries({"parent": st.sampled_from([parent, parent, own, "20000101-000001"])}),
        Step.escalate: st.fixed_dictionaries({"reason": reason}),
        Step.withdraw: st.fixed_dictionaries({"reason": reason}),
        Step.add_info: st.fixed_dictionaries({"text": st.sampled_from(["晚上更严重", ""])}),
        Step.mark_overdue: st.fixed_dictionaries({"deadline": st.sampled_from(["sign", "reply", "never"])}),
        Step.queue_callback: st.just({}),
        Step.suggest: st.sampled_from([{"suggestion": {"full": {"category_code": "01"}, "brief": {"manual": True},
                                                       "terms": "群租 消防", "area_code": None}}, {}]),
    }


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_random_walk_state_is_the_replay_of_the_log(session, clock, settings, cast, data):
    steps = list(rules.TRANSITIONS)
    example = session.begin_nested()  # each example on its own, undone at the end
    try:
        parent = service.create_request(session, cast.operator, clock, settings, service.NewRequest(
            text="同一问题的另一来电", request_type=RequestType.complaint, channel=Channel.hotline)).ticket
        ticket = service.create_request(session, cast.citizen, clock, settings, service.NewRequest(
            text="小区门口占道经营", request_type=RequestType.complaint, channel=Channel.app, area_code=STREET,
            contact_phone="13800000000")).ticket
        payloads = _payloads(parent.number, ticket.number)
        for _ in range(data.draw(st.integers(5, 40), label="length")):
            # Mostly a step the table offers from here (rarely one that ends the walk), sometimes any step.
            offered = [s for s in steps if ticket.state in rules.TRANSITIONS[s].sources]
            going_on = [s for s in offered if s not in ENDINGS]
            moving = [s for s in going_on if rules.TRANSITIONS[s].target is not None]
            mode = data.draw(st.integers(0, 9), label="mode")
            if mode == 0 or not offered:
                pool = steps
            elif mode == 1 or not going_on:
                pool = offered
            else:
                pool = moving if mode <= 5 and moving else going_on
            step = data.draw(st.sampled_from(pool), label="step")
            t = rules.TRANSITIONS[step]
            plausible = [w for w in WALKERS if getattr(cast, w).role in t.roles]
            if t.party == rules.Party.main_unit:
                plausible = ["handler", "other_handler"]
            name = data.draw(st.sampled_from(plausible) if plausible and data.draw(st.integers(0, 3)) > 0
                             else st.sampled_from(WALKERS), label="actor")
            actor = getattr(cast, name)
            payload = data.draw(payloads[step], label="payload")
            clock.advance(timedelta(minutes=data.draw(st.integers(0, 24 * 60), label="minutes")))
            before = (ticket.state, len(ticket.events))
            try:
                with session.begin_nested():
                    service.act(session, actor, clock, settings, ticket.number, step, service.StepInput(**payload))
                ok = True
            except DomainError:
                ok = False  # anything else fails the test
            events = consistent(session, ticket)
            if ok:
                assert ticket.state == rules.next_state(before[0], step)
                assert len(events) == before[1] + 1
                assert (events[-1].action, events[-1].actor) == (step.value, actor.username)
            else:
                assert (ticket.state, len(events)) == before
            for prev, nxt in zip(events, events[1:], strict=False):
                assert nxt.from_state == prev.to_state
            if ticket.state in (S.handling, S.replied):
                assert ticket.main_unit_id is not None and ticket.signed_at is not None
            if ticket.state == S.replied:
                assert all(tu.state == SummonsState.reported for tu in ticket.units if tu.role == UnitRole.summoned)
    finally:
        example.rollback()
        # Rows loaded (not inserted) inside the savepoint stay in the identity map after its rollback, and
        # SQLite hands their ids out again: start the next example with an empty map.
        session.expunge_all()
