"""One ticket's page, and the workflow's steps taken from it by clicking.

The page offers the steps `tickets.service.available_steps` gives for this person and this ticket (the
workflow's table, never a second list here). Every step form posts to POST /tickets/{number}/steps/{step}
with the fields the step needs (the names of tickets.StepInput), the ticket's `expected_version` (so that a
form posted twice, or after someone else moved the ticket on, changes nothing) and `next`, the page to go
back to. A refused step shows the ticket again, as it is now, with the reason in the page's language.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import DomainError, InvalidInput, TicketNotFound
from jiesu.limits import MAX_CODE, MAX_REASON, MAX_TEXT, MAX_UNIT_CODE
from jiesu.permissions import Actor, Permission, can
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, URGENCY_LABELS
from jiesu.tickets import attachments, refusals
from jiesu.tickets import service as tickets
from jiesu.tickets.models import CHANNEL_LABELS, Ticket, UnitRole
from jiesu.tickets.rules import PERSON_STEPS, STATE_LABELS, Step
from jiesu.web import pages
from jiesu.web.i18n import pick_language

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

MAX_UNITS = 20  # co-units or summoned units in one step
MAX_PHOTOS = 6  # photos with one note or reply


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
    parent = session.scalar(select(Ticket.number).where(Ticket.id == t.parent_id)) if t.parent_id else None
    units_rows: list[dict[str, object]] = []
    if t.main_unit is not None:
        units_rows.append({"unit": t.main_unit, "role": pages.UNIT_ROLE_LABELS["main"],
                           "state": STATE_LABELS[t.state], "tu": None})
    order = {UnitRole.co: 0, UnitRole.copy: 1, UnitRole.summoned: 2}
    for tu in sorted(t.units, key=lambda tu: (order.get(tu.role, 9), tu.id)):
        units_rows.append({"unit": tu.unit, "role": pages.UNIT_ROLE_LABELS.get(tu.role, tu.role.value),
                           "state": pages.SUMMONS_LABELS.get(tu.state) if tu.state else None, "tu": tu})
    timeline = [{"e": e, "role": pages.role_label(e.role), "action": pages.action_label(e.action),
                 "from": STATE_LABELS.get(e.from_state) if e.from_state else None,
                 "to": STATE_LABELS.get(e.to_state), "payload": pages._payload(e.payload)}
                for e in sorted(t.events, key=lambda e: e.seq)]
    r = t.request
    done = request.query_params.get("done", "")
    return pages.render(
        request, "ticket.html", actor, status_code=status_code, session=session, t=t, r=r, parent=parent,
        units=units_rows, deadlines=pages.deadlines_of(t, clock.now()), marks=pages.DEADLINE_MARKS,
        timeline=timeline, contact=pages.masked_contact(r), state_label=STATE_LABELS[t.state],
        urgency_label=URGENCY_LABELS.get(t.urgency, t.urgency.value),
        type_label=REQUEST_TYPE_LABELS.get(r.request_type, r.request_type.value),
        channel_label=CHANNEL_LABELS.get(r.channel, r.channel.value), local=pages.local_time(settings.tz),
        suggestion=json.loads(t.suggestion) if t.suggestion and can(actor.role, Permission.routing_suggest)
        else None,
        steps=tickets.available_steps(actor, t), step_error=step_error,
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


def _version(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


def _codes(values: list[str]) -> list[str]:
    codes = [v.strip() for v in values if v.strip()]
    if len(codes) > MAX_UNITS:
        raise InvalidInput(f"at most {MAX_UNITS} units in one step", field="units")
    return codes


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
                    expected_version: Annotated[str, Form(max_length=12)] = "",
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

    def work() -> Response:
        try:
            with session.begin_nested():  # the photos and the step stand or fall together
                for filename, data in files:
                    attachments.add(session, actor, clock, settings, number, filename, data)
                data = tickets.StepInput(reason=reason, text=text, unit=unit.strip() or None,
                                         co_units=_codes(co_units), units=_codes(units), days=_days(days),
                                         parent=parent.strip() or None, category=category.strip() or None,
                                         expected_version=_version(expected_version))
                tickets.act(session, actor, clock, settings, number, the_step, data)
        except DomainError as exc:
            status = exc.status if exc.status in (403, 404, 409, 422) else 422
            return show(request, session, actor, clock, settings, number, status_code=status,
                        step_error={"step": the_step, "message": refusal(request, settings, exc),
                                    "field": exc.field})
        target = pages.local_path(next_) if next_ else f"/tickets/{number}"
        joiner = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{joiner}done={the_step.value}", status_code=303)

    return await run_in_threadpool(work)
