"""One ticket's page, and the workflow's steps taken from it by clicking.

The page offers the steps `tickets.service.available_steps` gives for this person and this ticket (the
workflow's table, never a second list here). Every step form posts to POST /tickets/{number}/steps/{step}
with the fields the step needs (the names of tickets.StepInput), the ticket's `expected_version` (so that a
form posted twice, or after someone else moved the ticket on, changes nothing) and `next`, the page to go
back to. A refused step shows the ticket again, as it is now, with the reason in the page's language.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jiesu import glossary
from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import ConcurrentChange, DomainError, InvalidInput, TicketNotFound
from jiesu.limits import MAX_CODE, MAX_PHOTOS, MAX_REASON, MAX_TEXT, MAX_UNIT_CODE
from jiesu.permissions import Actor, Permission, can, is_system
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, URGENCY_LABELS, Urgency
from jiesu.tickets import attachments, refusals
from jiesu.tickets import service as tickets
from jiesu.tickets.models import CHANNEL_LABELS, Ticket, TicketEvent, UnitRole
from jiesu.tickets.models import Request as TicketRequest
from jiesu.tickets.rules import PERSON_STEPS, STATE_LABELS, Step, TicketState
from jiesu.tickets.workflow import MAX_EXTENSION_DAYS
from jiesu.web import pages
from jiesu.web.i18n import pick_language

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

MAX_UNITS = 20  # co-units or summoned units in one step

# How the steps a person may take are laid out (which ones: tickets.available_steps, the workflow's table; this
# only orders them). The first that is not dangerous is the main step of the moment and shows open (签收 for a
# dispatched ticket, 派单 for a new one); the dangerous ones (they end or undo work) come last, apart, and each
# asks for a reason or a confirmation before it is sent.
STEP_ORDER = [Step.dispatch, Step.uphold_return, Step.approve_extension, Step.sign, Step.summons_sign,
              Step.summons_report, Step.reply, Step.close, Step.note, Step.whistle, Step.request_extension,
              Step.reopen, Step.escalate, Step.reject_extension, Step.return_, Step.reject_return, Step.merge,
              Step.withdraw]
DANGEROUS = frozenset({Step.return_, Step.reject_return, Step.reject_extension, Step.merge, Step.withdraw})
PHOTO_STEPS = frozenset({Step.note, Step.reply, Step.summons_report})


def step_plan(steps: list[Step]) -> dict[str, object]:
    """{"main": the step to show open or None, "usual": the others, "dangerous": the ones apart}, in STEP_ORDER."""
    rank = {s: i for i, s in enumerate(STEP_ORDER)}
    ordered = sorted(steps, key=lambda s: rank.get(s, len(rank)))
    usual = [s for s in ordered if s not in DANGEROUS]
    return {"main": usual[0] if usual else None, "usual": usual, "dangerous": [s for s in ordered if s in DANGEROUS]}


def suggested(t: Ticket) -> dict:
    """Smart dispatch's suggestion on the ticket (what the dispatch form is prefilled with), or {}."""
    try:
        value = json.loads(t.suggestion) if t.suggestion else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def last_seq(t: Ticket) -> int | str:
    """The last event the page shows (its seq), for the step forms' `seen`; "" when the page did not load the
    events (a list of tickets): then a form from a stale page is refused, as any other."""
    if "events" in inspect(t).unloaded:
        return ""
    return max((e.seq for e in t.events), default=0)


def codes_as_units(values: list[str] | None) -> list[dict[str, str]]:
    """Codes typed into a refused form, as the rows of a unit picker show them again."""
    return [{"code": v, "name": ""} for v in values or [] if v.strip()]


pages.templates.env.globals.update(step_plan=step_plan, suggested_for=suggested, photo_steps=PHOTO_STEPS,
                                   max_extension_days=MAX_EXTENSION_DAYS, codes_as_units=codes_as_units,
                                   last_seq=last_seq)


def merge_family(session: Session, t: Ticket) -> tuple[str | None, list[dict[str, object]]]:
    """The number of the ticket `t` was merged into, and the tickets merged into `t` (number, summary, state):
    one statement."""
    near = Ticket.parent_id == t.id
    if t.parent_id is not None:
        near = near | (Ticket.id == t.parent_id)
    rows = session.execute(select(Ticket.id, Ticket.number, Ticket.state, TicketRequest.title, TicketRequest.text)
                           .join(Ticket.request).where(near).order_by(Ticket.id)).all()
    parent = next((row.number for row in rows if row.id == t.parent_id), None)
    children = [{"number": row.number, "state": row.state,
                 "summary": pages.summary(row)}
                for row in rows if row.id != t.parent_id]
    return parent, children


def refusal(request: Request, settings: Settings, exc: DomainError) -> str:
    """The reason a step was refused, in the page's language."""
    lang = pick_language(request.query_params.get("lang"), request.cookies.get("lang"), settings.language)
    return refusals.in_chinese(exc.code, exc.field, exc.message) if lang == "zh_CN" else exc.message


def show(request: Request, session: Session, actor: Actor, clock: Clock, settings: Settings, number: str, *,
         status_code: int = 200, step_error: dict | None = None) -> Response:
    try:
        t = tickets.get(session, actor, number[:32])
    except TicketNotFound:
        return pages.error_page(request, actor, 404, session=session)
    parent, children = merge_family(session, t)
    units_rows: list[dict[str, object]] = []
    if t.main_unit is not None:
        units_rows.append({"unit": t.main_unit, "role": pages.UNIT_ROLE_LABELS["main"],
                           "state": STATE_LABELS[t.state], "tu": None})
    order = {UnitRole.co: 0, UnitRole.copy: 1, UnitRole.summoned: 2}
    for tu in sorted(t.units, key=lambda tu: (order.get(tu.role, 9), tu.id)):
        units_rows.append({"unit": tu.unit, "role": pages.UNIT_ROLE_LABELS.get(tu.role, tu.role.value),
                           "state": pages.SUMMONS_LABELS.get(tu.state) if tu.state else None, "tu": tu})
    told = tickets.timeline_units(session, actor, t.events)  # a citizen is told units, not the staff's names
    lang = pick_language(request.query_params.get("lang"), request.cookies.get("lang"), settings.language)
    timeline = [{"e": e, "system": is_system(e.actor), "role": pages.role_label(e.role),
                 "who": tickets.told_actor(e, actor, told, centre=glossary.label("unit_kind", "centre", lang)),
                 "action": pages.action_label(e.action),
                 "from": STATE_LABELS.get(e.from_state) if e.from_state else None,
                 "to": STATE_LABELS.get(e.to_state), "payload": pages._payload(e.payload)}
                for e in sorted(t.events, key=lambda e: e.seq)]
    r = t.request
    done = request.query_params.get("done", "")
    files = attachments.of_ticket(session, t)
    return pages.render(
        request, "ticket.html", actor, status_code=status_code, session=session, t=t, r=r, parent=parent,
        children=children,
        units=units_rows, deadlines=pages.deadlines_of(t, clock.now()), marks=pages.DEADLINE_MARKS,
        timeline=timeline, contact=pages.masked_contact(r), state_label=STATE_LABELS[t.state],
        urgency_label=URGENCY_LABELS.get(t.urgency, t.urgency.value),
        type_label=REQUEST_TYPE_LABELS.get(r.request_type, r.request_type.value),
        channel_label=CHANNEL_LABELS.get(r.channel, r.channel.value), local=pages.local_time(settings.tz),
        suggestion=json.loads(t.suggestion) if t.suggestion and can(actor.role, Permission.routing_suggest)
        else None,
        files=files, removable={f.id for f in files if attachments.may_remove(actor, t, f)},
        uploaders={f.id: tickets.told_uploader(f.uploaded_by, f.role, actor, lang) for f in files},
        steps=tickets.available_steps(actor, t), step_error=step_error,
        reply_waits_for=[tu.unit.name for tu in tickets.summons_waiting(t)]
        if t.state == TicketState.handling and actor.unit_id is not None and actor.unit_id == t.main_unit_id else [],
        done=Step(done) if done in Step._value2member_map_ else None)


@router.get("/tickets/{number}", response_class=HTMLResponse)
def ticket_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                number: str) -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    return show(request, session, actor, clock, settings, number)


def _days(value: str) -> float | None:
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput("days must be a number of business days", field="days") from None


# Steps that add to the ticket's record rather than decide on what the person saw: one of them sent from a page
# that others have moved the ticket on since (a summoned department signed while the street typed its note) is
# taken, unless the same person took the same step since that page was shown (the form sent twice). The
# workflow's own rules still refuse what the ticket's state no longer allows. Every other step on a stale page is
# refused (409) and the page shown as it is now.
ADDS_TO_THE_RECORD = frozenset({Step.note, Step.whistle, Step.summons_sign, Step.summons_report,
                                Step.request_extension, Step.escalate, Step.reply})


def _taken_since(session: Session, actor: Actor, number: str, step: Step, seen: int | None) -> bool:
    """Whether `actor` took `step` on the ticket after its event `seen` (the last one its page showed); without
    `seen`, as if so."""
    if seen is None:
        return True
    return session.scalar(select(func.count()).select_from(TicketEvent).join(Ticket, TicketEvent.ticket_id == Ticket.id)
                          .where(Ticket.number == number, TicketEvent.seq > seen,
                                 TicketEvent.actor == actor.username, TicketEvent.action == step.value)) > 0


def _urgency(value: str) -> Urgency | None:
    """The dispatch form's 确认紧急 box: `emergency` when ticked, nothing otherwise."""
    if not value.strip():
        return None
    if value.strip() not in Urgency._value2member_map_:
        raise InvalidInput("urgency is emergency, normal or complex", field="urgency")
    return Urgency(value.strip())


def _version(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


def _codes(values: list[str]) -> list[str]:
    # Without the page's script a person types codes, several in one box: "a, b" or "a b" or "a、b".
    codes = list(dict.fromkeys(c for v in values for c in re.split(r"[\s,，、;；]+", v) if c))
    if len(codes) > MAX_UNITS:
        raise InvalidInput(f"at most {MAX_UNITS} units in one step", field="units")
    return codes


@router.post("/tickets/{number}/attachments/{attachment_id}/remove", response_class=HTMLResponse)
def remove_attachment(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                      number: str, attachment_id: str) -> Response:
    """The ticket page's 删除 button beside a file: tickets.attachments.remove, then the page again."""
    number = number[:32]
    if actor.role is None:
        return RedirectResponse(pages.login_url(f"/tickets/{number}"), status_code=303)
    if not attachment_id.isdigit() or len(attachment_id) > 10:
        return pages.error_page(request, actor, 404, session=session)
    try:
        attachments.remove(session, actor, clock, number, int(attachment_id))
    except DomainError as exc:
        session.rollback()
        status = exc.status if exc.status in (403, 404, 409, 422) else 422
        return show(request, session, actor, clock, settings, number, status_code=status,
                    step_error={"step": None, "message": refusal(request, settings, exc), "field": exc.field,
                                "values": {}})
    return RedirectResponse(f"/tickets/{number}?done={Step.remove_attachment.value}", status_code=303)


@router.post("/tickets/{number}/steps/{step}", response_class=HTMLResponse)
async def take_step(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                    number: str, step: str,
                    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
                    text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                    unit: Annotated[str, Form(max_length=MAX_UNIT_CODE)] = "",
                    co_units: Annotated[list[str], Form(max_length=MAX_UNITS)] = [],  # noqa: B006 (FastAPI copies)
                    units: Annotated[list[str], Form(max_length=MAX_UNITS)] = [],  # noqa: B006
                    days: Annotated[str, Form(max_length=16)] = "",
                    parent: Annotated[str, Form(max_length=MAX_CODE)] = "",
                    category: Annotated[str, Form(max_length=MAX_CODE)] = "",
                    urgency: Annotated[str, Form(max_length=16)] = "",
                    expected_version: Annotated[str, Form(max_length=12)] = "",
                    seen: Annotated[str, Form(max_length=12)] = "",
                    next_: Annotated[str, Form(alias="next", max_length=pages.MAX_NEXT)] = "",
                    photos: Annotated[list[UploadFile], File(max_length=MAX_PHOTOS)] = [],  # noqa: B006
                    ) -> Response:
    number = number[:32]
    if actor.role is None:
        return RedirectResponse(pages.login_url(f"/tickets/{number}"), status_code=303)
    if step.replace("-", "_") not in {s.value for s in PERSON_STEPS}:
        return pages.error_page(request, actor, 404, session=session)
    the_step = Step(step.replace("-", "_"))
    limit = int(settings.max_attachment_mb * 1024 * 1024)
    files = []
    for photo in photos:
        if photo.filename:
            data = await photo.read(limit + 1)
            files.append((photo.filename, data))

    def attempt(version: int | None) -> None:
        with session.begin_nested():  # the photos and the step stand or fall together
            for filename, data in files:
                attachments.add(session, actor, clock, settings, number, filename, data)
            data = tickets.StepInput(reason=reason, text=text, unit=unit.strip() or None,
                                     co_units=_codes(co_units), units=_codes(units), days=_days(days),
                                     parent=parent.strip() or None, category=category.strip() or None,
                                     urgency=_urgency(urgency), expected_version=version)
            tickets.act(session, actor, clock, settings, number, the_step, data)

    def work() -> Response:
        try:
            try:
                attempt(_version(expected_version))
            except ConcurrentChange as exc:
                if not (exc.field == "expected_version" and the_step in ADDS_TO_THE_RECORD
                        and not _taken_since(session, actor, number, the_step, _version(seen))):
                    raise
                attempt(None)  # others moved the ticket on meanwhile; this form was not sent before
        except DomainError as exc:
            status = exc.status if exc.status in (403, 404, 409, 422) else 422
            typed = {"reason": reason, "text": text, "unit": unit, "co_units": co_units, "units": units,
                     "days": days, "parent": parent, "category": category}
            return show(request, session, actor, clock, settings, number, status_code=status,
                        step_error={"step": the_step, "message": refusal(request, settings, exc),
                                    "field": exc.field, "values": typed})
        target = pages.local_path(next_) if next_ else f"/tickets/{number}"
        joiner = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{joiner}done={the_step.value}", status_code=303)

    return await run_in_threadpool(work)
