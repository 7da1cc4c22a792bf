"""What every request gets: a session (committed at the request boundary), the clock, the actor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jiesu import inputs
from jiesu.api.security import check_api_cookie
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.db import finish, open_session
from jiesu.errors import AuthenticationFailed, InvalidInput
from jiesu.permissions import ANONYMOUS, Actor
from jiesu.units import users

SESSION_TOKEN_KEY = "token"  # the page login's token, kept in the signed cookie


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


WRITES_ON_READ = "jiesu_writes_on_read"


def writes_on_read(endpoint):
    """Mark a GET endpoint that writes (an unmasked contact's access log): its transaction takes SQLite's write
    lock at the start and waits its turn, instead of failing when another writer got in after its reads."""
    setattr(endpoint, WRITES_ON_READ, True)
    return endpoint


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Async, so that making the session (no I/O yet) costs no thread hop; the commit or rollback at the end
    # does I/O and runs in the thread pool like the handlers.
    write = request.method not in READ_METHODS or getattr(request.scope.get("endpoint"), WRITES_ON_READ, False)
    session = open_session(request.app.state.sessions, write=write)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(finish, session, False)
        raise
    if session.in_transaction():
        await run_in_threadpool(finish, session, True)
    else:  # committed by the handler itself (see tickets' intake), or never used: no I/O left, no thread hop
        session.close()


# The dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its thread pool,
# and each such hop costs more than the work itself.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


# scope="function": commit before the response is sent, so a failed commit is an error response,
# never a success the database did not keep.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


# Declared so that the OpenAPI document has a security scheme and /docs an Authorize button; the header
# itself is read below, to answer a malformed one in Jiesu's error shape.
bearer_scheme = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/login")


def _token(request: Request) -> tuple[str | None, bool]:
    """(the token, whether it came from the Authorization header rather than the login cookie)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Authorization must be 'Bearer <token>'", field="Authorization")
        return token.strip(), True
    return (request.session.get(SESSION_TOKEN_KEY) if "session" in request.scope else None), False


def actor_of_request(request: Request, session: Session, clock: Clock) -> Actor:
    """Bearer token for programs, the login cookie for pages, anonymous otherwise."""
    token, from_header = _token(request)
    if token is None:
        return ANONYMOUS
    seconds = request.app.state.settings.token_cache_seconds
    try:
        return users.cached_actor(token, clock.now(), seconds) or users.actor_for_token(session, clock, token,
                                                                                        seconds)
    except AuthenticationFailed:
        if from_header:
            raise
        request.session.clear()  # logged out, expired, or the password changed meanwhile
        return ANONYMOUS


async def get_actor(request: Request, session: SessionDep, clock: ClockDep,
                    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None
                    ) -> Actor:
    # Async, so that a token seen a moment ago (users.cached_actor) costs no thread hop and no query.
    token, from_header = _token(request)
    if token is None:
        return ANONYMOUS
    if not from_header and not _is_page(request):
        check_api_cookie(request)  # a page's script writing through the API with the login cookie
    actor = users.cached_actor(token, clock.now(), request.app.state.settings.token_cache_seconds)
    if actor is not None:
        return actor
    return await run_in_threadpool(actor_of_request, request, session, clock)


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path.startswith("/open311/"))


ActorDep = Annotated[Actor, Depends(get_actor)]
# `openapi_extra` of an operation that anonymous callers may use too (it takes ActorDep, not UserDep): the
# document then says the token is optional ({} is "no security"), as it is.
LOGIN_OPTIONAL = {"security": [{}]}


async def require_login(actor: ActorDep) -> Actor:
    if actor.role is None:
        raise AuthenticationFailed("log in first: POST /api/v1/auth/login, then send 'Authorization: Bearer <token>'",
                                   field="Authorization")
    return actor


UserDep = Annotated[Actor, Depends(require_login)]


# Every date, time and month a query or path carries goes through jiesu.inputs: one parser, one range of years.
MOMENT_HELP = ("ISO 8601: 2024-10-01 (that day's start in the city's time zone), 2024-10-01T09:00 (the city's time) "
               "or 2024-10-01T09:00:00+08:00")


def _iso_day(value: object) -> object:
    # Pydantic would also take a number as a Unix time ("0" is 1970-01-01); the document promises ISO 8601.
    return inputs.day(value) if isinstance(value, str) else value


IsoDate = Annotated[date, BeforeValidator(_iso_day)]
Month = Annotated[str, AfterValidator(inputs.month)]


def moment_query(name: str, *, required: bool = False, description: str = MOMENT_HELP) -> Any:
    """A query parameter `name` holding an instant (inputs.moment): a plain date or a time without an offset is
    read in Settings.tz; an aware datetime (or None when absent) reaches the handler, a bad one or a year out
    of range a 422 naming `name`. Use as `Annotated[datetime | None, moment_query("created_from")]`."""

    query = Query(alias=name, max_length=40, description=description)

    async def dependency(request: Request, value: str | None = None) -> datetime | None:
        if value is None:
            return None
        try:
            return inputs.moment(value, request.app.state.settings.tz)
        except ValueError as exc:
            raise InvalidInput(f"{name}: {exc}", field=name) from None

    if required:
        dependency.__defaults__ = None  # no default: FastAPI answers a missing one with 422 naming it
    # Real objects, not this module's postponed strings: `name` and `description` are this call's, not globals.
    dependency.__annotations__ = {"request": Request, "value": Annotated[str if required else str | None, query],
                                  "return": datetime | None}
    return Depends(dependency)


def single_valued(request: Request) -> None:
    """A route whose query parameters are each one value: one given twice is refused naming it, not read as its
    last value (the framework's way), so that `?actor=a&actor=b` never lists b's entries as if a had been asked."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            raise InvalidInput(f"{name} is given more than once", field=name)
        seen.add(name)
