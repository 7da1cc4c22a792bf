"""The citizens' app (the brief's 花伴儿), mobile first: 我要反映 (report a problem with photos and a place, or
follow one already reported nearby), 我的诉求 (one's own requests and the followed ones, in plain words), and on a
request its timeline, the unit's reply, the survey, withdrawing and adding to it.

Every handler calls the services the API calls: intake for a report (channel app, Idempotency-Key), attachments
for the photos, the workflow for withdrawing and adding details, the callback service for the survey, and
tickets.following for 加入关注. A citizen is told units, never the staff's usernames, nor internal notes
(tickets.reading.told_actor and CITIZEN_STEPS below).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.callback import service as callback
from jiesu.callback.models import RESOLUTION_LABELS, SATISFACTION_LABELS, Resolution, Satisfaction
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import DomainError, InvalidInput
from jiesu.intake import service as intake
from jiesu.limits import MAX_ADDRESS, MAX_CODE, MAX_IDEMPOTENCY_KEY, MAX_NAME, MAX_REASON, MAX_TEXT
from jiesu.permissions import Actor, Role
from jiesu.places import service as places
from jiesu.places.models import AreaLevel
from jiesu.routing import service as routing
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, RequestType
from jiesu.tickets import attachments, following
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel, Ticket
from jiesu.tickets.rules import OPEN_STATES, OPEN_WORK, Step, TicketState
from jiesu.units.models import Unit
from jiesu.web import pages
from jiesu.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])
STATIC = Path(__file__).parent / "static" / "app"
MAX_APP_PHOTOS = 3  # photos with one report or one addition (the browser shrinks them to ~1600 px first)
MIN_SIMILAR_TEXT = 4  # characters typed before similar requests are looked for
# The request types a citizen picks from, the most common first.
TYPE_ORDER = [RequestType.complaint, RequestType.help, RequestType.report, RequestType.inquiry,
              RequestType.suggestion, RequestType.praise]
# The steps a citizen's timeline shows: what happened to their request, not the centre's and the units' own work
# (progress notes, extensions, whistles, supervision, returns between the centre and a unit).
CITIZEN_STEPS = frozenset({Step.create, Step.dispatch, Step.uphold_return, Step.sign, Step.reply, Step.close,
                           Step.reopen, Step.withdraw, Step.merge, Step.add_info, Step.import_})
# Whose words a citizen's timeline quotes: the unit's reply, and the citizen's own.
QUOTED_STEPS = frozenset({Step.reply, Step.add_info, Step.withdraw})
# A ticket's state in a citizen's words (受理 → 已派至 XX街道 → 处理中 → 已答复 → 已办结).
CITIZEN_WORDS = {
    TicketState.new: "已受理，正在派单",
    TicketState.dispatched: "已派至{unit}",
    TicketState.handling: "{unit}正在处理",
    TicketState.returned: "正在重新派单",
    TicketState.replied: "已答复",
    TicketState.closed: "已办结",
    TicketState.withdrawn: "已撤回",
    TicketState.merged: "已与相同诉求合并办理",
}
STEP_WORDS = {  # a timeline line, in a citizen's words
    Step.create: "诉求已受理", Step.import_: "诉求已受理", Step.dispatch: "已派至{unit}",
    Step.uphold_return: "已改派至{unit}", Step.sign: "{unit}已接单，正在处理", Step.reply: "{unit}已答复",
    Step.close: "已办结", Step.reopen: "重新办理", Step.withdraw: "您已撤回", Step.merge: "与相同诉求合并办理",
    Step.add_info: "您补充了说明",
}
DONE_WORDS = {"report": "已提交，我们会尽快派给负责的单位。", "follow": "已加入关注。", "unfollow": "已取消关注。",
              "survey": "感谢您的评价。", "withdraw": "诉求已撤回。", "add_info": "已补充。"}


def words_for(request: Request, settings: Settings):
    """The page's translator (as pages.render picks the language), for words made here."""
    return translator(pick_language(request.query_params.get("lang"), request.cookies.get("lang"), settings.language))


def app_only(request: Request, actor: Actor) -> Response | None:
    """The app is the citizens': anyone else is sent to log in, or to the staff's home."""
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    if actor.role != Role.citizen:
        return RedirectResponse("/", status_code=303)
    return None


def unit_names_of(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes))).all())


def status_words(t: Ticket, _) -> str:
    unit = t.main_unit.name if t.main_unit is not None else _("承办单位")
    return _(CITIZEN_WORDS[t.state], unit=unit) if "{unit}" in CITIZEN_WORDS[t.state] else _(CITIZEN_WORDS[t.state])


def place_of(t: Ticket) -> str:
    return t.area.name if t.area is not None else ""


@dataclass
class Line:
    at: datetime
    words: str
    by: str
    quote: str


def timeline(session: Session, actor: Actor, t: Ticket, _, *, own: bool) -> list[Line]:
    """The ticket's events a citizen is told, in their words; `own`: the filer, who also reads the reply and
    their own words (a follower reads the steps only)."""
    units = tickets.timeline_units(session, actor, t.events)
    payloads = {e.id: pages._payload(e.payload) for e in t.events}
    names = unit_names_of(session, {str(p.get("unit")) for p in payloads.values() if p.get("unit")})
    lines = []
    for e in t.events:
        if e.action not in Step._value2member_map_ or Step(e.action) not in CITIZEN_STEPS:
            continue
        step = Step(e.action)
        words = STEP_WORDS[step]
        if step in (Step.dispatch, Step.uphold_return):  # to whom: the unit the step names
            unit = names.get(str(payloads[e.id].get("unit")), "") or _("承办单位")
        else:  # who: the unit a staff member acted for (told_actor), never their username
            unit = tickets.told_actor(e, actor, units, _("热线中心"))
        quote = (payloads[e.id].get("text") or e.reason or "") if own and step in QUOTED_STEPS else ""
        by = "" if step in (Step.sign, Step.reply, Step.dispatch, Step.uphold_return) else (
            _("您") if e.actor == actor.username else "")
        lines.append(Line(e.at, _(words, unit=unit) if "{unit}" in words else _(words), by, quote))
    return lines


def reply_of(t: Ticket) -> str:
    """The unit's last reply, as written on its reply event."""
    for e in reversed(t.events):
        if e.action == Step.reply.value:
            return pages._payload(e.payload).get("text") or e.reason or ""
    return ""


def item(t: Ticket, _, *, own: bool) -> dict:
    return {"t": t, "own": own, "words": status_words(t, _), "summary": pages.summary(t.request, 60) if own else "",
            "place": place_of(t) + (f" · {t.request.address}" if own and t.request.address else ""),
            "category": t.category.name if t.category is not None else "",
            "survey": own and t.state == TicketState.replied, "open": t.state in OPEN_STATES}


def my_requests(session: Session, actor: Actor, clock: Clock, limit: int = 100) -> list[Ticket]:
    f = tickets.TicketFilter(now=clock.now())
    return tickets.list_tickets(session, actor, f, limit=limit)[0]


# --- pages ---------------------------------------------------------------------------------------------------------

@router.get("/app", response_class=HTMLResponse)
def app_home(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
             done: str = "") -> Response:
    if (away := app_only(request, actor)) is not None:
        return away
    _ = words_for(request, settings)
    mine = my_requests(session, actor, clock, limit=100)
    return pages.render(request, "app_home.html", actor, session=session,
                        items=[item(t, _, own=True) for t in mine[:3]],
                        open_count=sum(t.state in OPEN_STATES for t in mine),
                        survey_count=sum(t.state == TicketState.replied for t in mine),
                        followed_count=len(following.followed(session, actor, ())),
                        local=pages.local_time(settings.tz), done=DONE_WORDS.get(done))


def report_form(request: Request, session: Session, actor: Actor, *, status_code: int = 200,
                error: str | None = None, field: str | None = None, posted: dict | None = None) -> Response:
    posted = posted or {}
    return pages.render(request, "app_report.html", actor, status_code=status_code, session=session,
                        types=[(t.value, REQUEST_TYPE_LABELS[t]) for t in TYPE_ORDER], posted=posted,
                        key=posted.get("idempotency_key") or secrets.token_urlsafe(16), error=error, field=field,
                        max_photos=MAX_APP_PHOTOS)


@router.get("/app/report", response_class=HTMLResponse)
def report_page(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if (away := app_only(request, actor)) is not None:
        return away
    return report_form(request, session, actor)


def _coordinate(value: str, field: str, low: float, high: float) -> float | None:
    if not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{field} is a number", field=field) from None
    if not (low <= number <= high):
        raise InvalidInput(f"{field} is between {low:g} and {high:g}", field=field)
    return number


async def _read_photos(photos: list[UploadFile], settings: Settings) -> list[tuple[str, bytes]]:
    limit = int(settings.max_attachment_mb * 1024 * 1024)
    files = [(p.filename, await p.read(limit + 1)) for p in photos if p.filename]
    if len(files) > MAX_APP_PHOTOS:
        raise InvalidInput(f"at most {MAX_APP_PHOTOS} photos", field="photos")
    return files


@router.post("/app/report", response_class=HTMLResponse)
async def report(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                 request_type: Annotated[str, Form(max_length=16)] = "",
                 address: Annotated[str, Form(max_length=MAX_ADDRESS)] = "",
                 area_code: Annotated[str, Form(max_length=MAX_CODE)] = "",
                 lng: Annotated[str, Form(max_length=32)] = "",
                 lat: Annotated[str, Form(max_length=32)] = "",
                 idempotency_key: Annotated[str, Form(max_length=MAX_IDEMPOTENCY_KEY)] = "",
                 photos: Annotated[list[UploadFile], File(max_length=MAX_APP_PHOTOS + 3)] = [],  # noqa: B006
                 ) -> Response:
    """我要反映: the request through intake (as POST /api/v1/requests files it: channel app, the form's
    Idempotency-Key so that a double tap makes one ticket), its photos through the attachments service, in one
    transaction: a refused photo files nothing."""
    if (away := app_only(request, actor)) is not None:
        return away
    posted = {"text": text, "request_type": request_type, "address": address, "area_code": area_code, "lng": lng,
              "lat": lat, "idempotency_key": idempotency_key}
    try:
        files = await _read_photos(photos, settings)
    except InvalidInput as exc:
        return report_form(request, session, actor, status_code=422, error=exc.message, field=exc.field,
                           posted=posted)

    def work() -> Response:
        try:
            if request_type not in RequestType._value2member_map_:
                raise InvalidInput("choose the request's type", field="request_type")
            new = tickets.NewRequest(
                text=text, request_type=RequestType(request_type), channel=Channel.app, address=address.strip(),
                area_code=area_code.strip() or None, lng=_coordinate(lng, "lng", -180, 180),
                lat=_coordinate(lat, "lat", -90, 90))
            if (new.lng is None) != (new.lat is None):
                raise InvalidInput("give both lng and lat, or neither", field="lat" if new.lat is None else "lng")
            with session.begin_nested():  # the request and its photos stand or fall together
                made = intake.create_request(session, actor, clock, settings, new, idempotency_key.strip() or None,
                                             now=settings.suggest_at_intake)
                number = made.intake.ticket.number
                if not made.intake.replayed:  # a double tap's second form: the photos came with the first
                    for filename, data in files:
                        attachments.add(session, actor, clock, settings, number, filename, data)
        except DomainError as exc:
            status = exc.status if exc.status in (403, 404, 409, 422) else 422
            return report_form(request, session, actor, status_code=status, error=exc.message, field=exc.field,
                               posted=posted)
        return RedirectResponse(f"/app/requests/{number}?done=report", status_code=303)

    return await run_in_threadpool(work)


@router.get("/app/requests", response_class=HTMLResponse)
def requests_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                  done: str = "") -> Response:
    if (away := app_only(request, actor)) is not None:
        return away
    _ = words_for(request, settings)
    return pages.render(request, "app_requests.html", actor, session=session,
                        mine=[item(t, _, own=True) for t in my_requests(session, actor, clock)],
                        followed=[item(t, _, own=False) for t in following.followed(session, actor)],
                        local=pages.local_time(settings.tz), done=DONE_WORDS.get(done))


def show(request: Request, session: Session, actor: Actor, clock: Clock, settings: Settings, number: str, *,
         status_code: int = 200, error: str | None = None, field: str | None = None, done: str = "",
         posted: dict | None = None) -> Response:
    _ = words_for(request, settings)
    number = number[:MAX_CODE]
    own = session.scalar(tickets.readable(actor, ()).with_only_columns(Ticket.id)
                         .where(Ticket.number == number)) is not None
    t = tickets.get(session, actor, number) if own else following.followed_one(session, actor, number,
                                                                                 tickets.DETAIL)
    files = attachments.of_ticket(session, t) if own else []
    lang = pick_language(request.query_params.get("lang"), request.cookies.get("lang"), settings.language)
    uploaders = {f.id: _("您") if f.uploaded_by == actor.username else tickets.told_uploader(
        f.uploaded_by, f.role, actor, lang) for f in files}
    return pages.render(
        request, "app_request.html", actor, status_code=status_code, session=session, it=item(t, _, own=own),
        t=t, text=t.request.text if own else "", reply=reply_of(t) if own else "",
        lines=timeline(session, actor, t, _, own=own), files=files, uploaders=uploaders,
        followers=following.followers(session, t),
        may_withdraw=own and t.state in OPEN_WORK, may_add=own and t.state in OPEN_WORK,
        may_survey=own and t.state == TicketState.replied, resolutions=RESOLUTION_LABELS,
        satisfactions=SATISFACTION_LABELS, local=pages.local_time(settings.tz), error=error, field=field,
        done=DONE_WORDS.get(done), posted=posted or {}, max_photos=MAX_APP_PHOTOS)


@router.get("/app/requests/{number}", response_class=HTMLResponse)
def request_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 number: str, done: str = "") -> Response:
    if (away := app_only(request, actor)) is not None:
        return away
    try:
        return show(request, session, actor, clock, settings, number, done=done)
    except DomainError as exc:
        return pages.error_page(request, actor, exc.status if exc.status in (403, 404) else 404, session=session)


def _act(request: Request, session: Session, actor: Actor, clock: Clock, settings: Settings, number: str,
         done: str, posted: dict, work) -> Response:
    """Run one action on a request; its refusal shows the request again with the message and the field."""
    number = number[:MAX_CODE]
    try:
        with session.begin_nested():
            work()
    except DomainError as exc:
        status = exc.status if exc.status in (403, 404, 409, 422) else 422
        try:
            return show(request, session, actor, clock, settings, number, status_code=status, error=exc.message,
                        field=exc.field, posted=posted)
        except DomainError:  # a request the citizen may not read: not found, as any other
            return pages.error_page(request, actor, 404, session=session)
    return RedirectResponse(f"/app/requests/{number}?done={done}", status_code=303)


@router.post("/app/requests/{number}/survey", response_class=HTMLResponse)
def survey(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
           number: str, contacted: Annotated[str, Form(max_length=8)] = "",
           resolution: Annotated[str, Form(max_length=16)] = "",
           satisfaction: Annotated[str, Form(max_length=16)] = "",
           comment: Annotated[str, Form(max_length=MAX_REASON)] = "") -> Response:
    """评价: the survey of one's own replied request, answered in the app (callback.answer_own, as the API's
    POST /api/v1/tickets/{number}/survey)."""
    if (away := app_only(request, actor)) is not None:
        return away

    def work() -> None:
        if contacted not in ("1", "0"):
            raise InvalidInput("say whether the unit contacted you", field="contacted")
        if resolution not in Resolution._value2member_map_:
            raise InvalidInput("say whether the problem is resolved", field="resolution")
        if satisfaction not in Satisfaction._value2member_map_:
            raise InvalidInput("say whether you are satisfied", field="satisfaction")
        callback.answer_own(session, actor, clock, settings, number, callback.Answer(
            reached=True, contacted=contacted == "1", resolution=Resolution(resolution),
            satisfaction=Satisfaction(satisfaction), comment=comment))

    posted = {"contacted": contacted, "resolution": resolution, "satisfaction": satisfaction, "comment": comment}
    return _act(request, session, actor, clock, settings, number, "survey", posted, work)


@router.post("/app/requests/{number}/withdraw", response_class=HTMLResponse)
def withdraw(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
             number: str, reason: Annotated[str, Form(max_length=MAX_REASON)] = "") -> Response:
    if (away := app_only(request, actor)) is not None:
        return away

    def work() -> None:
        tickets.act(session, actor, clock, settings, number[:MAX_CODE], Step.withdraw,
                    tickets.StepInput(reason=reason.strip()))

    return _act(request, session, actor, clock, settings, number, "withdraw", {"reason": reason}, work)


@router.post("/app/requests/{number}/add", response_class=HTMLResponse)
async def add_info(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                   number: str, text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                   photos: Annotated[list[UploadFile], File(max_length=MAX_APP_PHOTOS + 3)] = [],  # noqa: B006
                   ) -> Response:
    """补充: a note (the workflow's add_info step) and/or photos on one's own open request."""
    if (away := app_only(request, actor)) is not None:
        return away
    number = number[:MAX_CODE]
    try:
        files = await _read_photos(photos, settings)
    except InvalidInput as exc:
        return await run_in_threadpool(show, request, session, actor, clock, settings, number, status_code=422,
                                       error=exc.message, field=exc.field, posted={"text": text})

    def work() -> None:
        if not text.strip() and not files:
            raise InvalidInput("write what you add, or add a photo", field="text")
        tickets.get(session, actor, number, ())  # not found unless it is the citizen's own (their only readable)
        for filename, data in files:
            attachments.add(session, actor, clock, settings, number, filename, data)
        if text.strip():
            tickets.act(session, actor, clock, settings, number, Step.add_info, tickets.StepInput(text=text.strip()))

    return await run_in_threadpool(_act, request, session, actor, clock, settings, number, "add_info",
                                   {"text": text}, work)


@router.post("/app/requests/{number}/follow", response_class=HTMLResponse)
def follow(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
           number: str) -> Response:
    """加入关注: follow a similar open request instead of filing a new one."""
    if (away := app_only(request, actor)) is not None:
        return away
    number = number[:MAX_CODE]
    try:
        with session.begin_nested():
            following.follow(session, actor, clock, number)
    except DomainError as exc:
        return pages.error_page(request, actor, exc.status if exc.status in (403, 404, 409, 422) else 422,
                                session=session, field=exc.field)
    return RedirectResponse(f"/app/requests/{number}?done=follow", status_code=303)


@router.post("/app/requests/{number}/unfollow", response_class=HTMLResponse)
def unfollow(request: Request, session: SessionDep, actor: ActorDep, number: str) -> Response:
    if (away := app_only(request, actor)) is not None:
        return away
    try:
        following.unfollow(session, actor, number[:MAX_CODE])
    except DomainError as exc:
        return pages.error_page(request, actor, exc.status if exc.status in (403, 404) else 404, session=session)
    return RedirectResponse("/app/requests?done=unfollow", status_code=303)


# --- what the report form asks as the citizen types (JSON for app.js) ---------------------------------------------

def _json_error(exc: DomainError) -> JSONResponse:
    status = exc.status if exc.status in (401, 403, 404, 422) else 422
    return JSONResponse({"code": exc.code, "field": exc.field, "message": exc.message}, status_code=status)


@router.get("/app/locate")
def locate(request: Request, session: SessionDep, actor: ActorDep,
           lng: Annotated[float, Query(ge=-180, le=180)], lat: Annotated[float, Query(ge=-90, le=90)]) -> Response:
    """用我的位置: the district that holds the point (places.locate); the street and community are then picked by
    name within it (the shipped boundaries are the districts')."""
    if actor.role is None:
        return JSONResponse({"field": "Authorization", "message": "log in"}, status_code=401)
    try:
        area = places.locate(session, actor, lng, lat)
    except DomainError as exc:
        return _json_error(exc)
    if area is None:
        return JSONResponse({"found": False, "lng": lng, "lat": lat})
    return JSONResponse({"found": True, "lng": lng, "lat": lat, "code": area.code, "name": area.name,
                         "path": area.path, "level": area.level.value,
                         "district_code": area.code if area.level == AreaLevel.district else None})


@router.get("/app/places")
def find_places(request: Request, session: SessionDep, actor: ActorDep,
                q: Annotated[str, Query(max_length=MAX_NAME)] = "",
                district: Annotated[str, Query(max_length=MAX_CODE)] = "") -> Response:
    """The community picker: streets and communities whose name holds `q` (places.find), in a district if given."""
    if actor.role is None:
        return JSONResponse({"field": "Authorization", "message": "log in"}, status_code=401)
    if not q.strip():
        return JSONResponse({"matches": []})
    try:
        found = places.find(session, actor, q, district_code=district or None, limit=30)
    except DomainError as exc:
        return _json_error(exc)
    matches = [{"code": m.area.code, "name": m.area.name, "path": m.area.path, "level": m.area.level.value}
               for m in found.matches if m.area.level in (AreaLevel.street, AreaLevel.community)][:15]
    return JSONResponse({"matches": matches})


@router.get("/app/similar")
def similar(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
            text: Annotated[str, Query(max_length=MAX_TEXT)] = "",
            area_code: Annotated[str, Query(max_length=MAX_CODE)] = "",
            lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
            lat: Annotated[float | None, Query(ge=-90, le=90)] = None) -> Response:
    """已有人反映: open requests nearby that say much the same (smart dispatch's duplicates), as their public status
    only: number, state in a citizen's words, the unit, the place, the category, how many follow. Never their text
    or who filed them."""
    if actor.role != Role.citizen:
        return JSONResponse({"field": "Authorization", "message": "for citizens"},
                            status_code=401 if actor.role is None else 403)
    if len(text.strip()) < MIN_SIMILAR_TEXT or (lng is None) != (lat is None):
        return JSONResponse({"similar": []})
    _ = words_for(request, settings)
    try:
        s = routing.make_suggestion(session, clock, settings, text=text, area_code=area_code.strip() or None,
                                    lng=lng, lat=lat)
    except DomainError as exc:
        return _json_error(exc)
    found = following.open_others(session, actor, [d["number"] for d in s.duplicates])
    mine = {t.id for t in following.followed(session, actor, ())}
    return JSONResponse({"similar": [
        {"number": t.number, "status": status_words(t, _), "place": place_of(t),
         "category": t.category.name if t.category is not None else "",
         "created": pages.local_time(settings.tz)(t.created_at), "followers": following.followers(session, t),
         "following": t.id in mine} for t in found]})


@router.get("/app/manifest.webmanifest")
def manifest() -> Response:
    """The app's manifest, with its own media type (installable: 添加到主屏幕)."""
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")

