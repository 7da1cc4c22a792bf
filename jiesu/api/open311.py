"""Open311 GeoReport v2 under /open311/v2: every resource in JSON and XML by its extension.

Errors leave in the spec's shape, not Jiesu's: `[{"code", "description"}]` (or `<errors><error>`), with 404 for
what does not exist (a service, a request, a token, a jurisdiction, a resource), 403 for a missing or bad
api_key, 413 for a body larger than MAX_OPEN311_BYTES and 400 for everything else, including text the edge
refuses (a NUL, api/edge.py) and a failure of the back end: never a 5xx (each route is wrapped by Open311Route,
and `/open311/v2/{anything else}` is answered here too). The resources are left out of the OpenAPI document,
which describes /api/v1 and its error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jiesu.api.deps import ClockDep, SessionDep, SettingsDep
from jiesu.api.edge import Refused, check_form
from jiesu.errors import AuthenticationFailed, DomainError, NotFound, PermissionDenied
from jiesu.limits import MAX_OPEN311_BYTES
from jiesu.open311 import render, schemas
from jiesu.open311 import service as open311
from jiesu.open311.render import FORMATS, JSON, XML

log = logging.getLogger("jiesu.open311")

PREFIX = "/open311/v2"
MAX_BODY = MAX_OPEN311_BYTES  # a POST is a few kB; the edge (api/edge.py) refuses more with 413 before this
MAX_FIELDS = 500


def _format_of(request: Request) -> str:
    return XML if request.url.path.lower().endswith(".xml") else JSON


def error_response(request: Request, exc: Exception) -> Response:
    """Any failure as the spec's error document, in the format the path asked for (JSON when it asked for none
    that exists)."""
    fmt = _format_of(request)
    if isinstance(exc, open311.Rejected):
        problems = [{"code": p.status, "description": p.description} for p in exc.problems]
        return Response(render.render(fmt, "errors", problems), status_code=exc.status,
                        media_type=render.CONTENT_TYPES[fmt])
    if isinstance(exc, NotFound):
        status, description = 404, exc.message
    elif isinstance(exc, PermissionDenied | AuthenticationFailed):
        status, description = 403, exc.message
    elif isinstance(exc, DomainError):
        status, description = 400, exc.message
    elif isinstance(exc, Refused):  # at the edge: text that cannot be text (400 here), a body too large (413)
        status = 413 if exc.status_code == 413 else 400
        description = exc.message
    elif isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        status, description = 400, f"{where}: {first.get('msg', 'invalid request')}"
    elif isinstance(exc, StarletteHTTPException):
        status = exc.status_code if exc.status_code in (400, 403, 404) else 400
        description = str(exc.detail)
    elif isinstance(exc, SQLAlchemyError):
        log.warning("open311: database failure on %s %s: %s", request.method, request.url.path, exc)
        status, description = 400, "the back end could not be reached or was busy: nothing was saved, try again"
    else:
        log.exception("open311: unexpected failure on %s %s", request.method, request.url.path)
        status, description = 400, "the request could not be fulfilled (an internal failure, logged); try again"
    return Response(render.errors(fmt, status, description), status_code=status, media_type=render.CONTENT_TYPES[fmt])


class Open311Route(APIRoute):
    """A route whose every failure, the framework's too, is answered in the spec's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure, the framework's too, becomes an error document
                return error_response(request, exc)

        return route


router = APIRouter(prefix=PREFIX, route_class=Open311Route, include_in_schema=False)


def _fmt(fmt: str) -> str:
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise open311.UnknownResource(f"no format .{fmt[:10]}: ask for .json or .xml")
    return fmt


def _answer(fmt: str, root: str, data: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(render.render(fmt, root, data), media_type=render.CONTENT_TYPES[fmt], headers=headers)


def _query(request: Request) -> schemas.Arguments:
    args = schemas.Arguments(request.query_params.multi_items())
    open311.check_jurisdiction(args.first("jurisdiction_id"))
    return args


async def form_arguments(request: Request) -> schemas.Arguments:
    """The POST's arguments: the query string's (some clients put api_key there) and the form's, read with a
    cap on the body's size, from application/x-www-form-urlencoded or multipart/form-data (files ignored)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.strip().isdigit() or int(length) > MAX_BODY):
        raise open311.BadRequest(f"the request body is larger than {MAX_BODY // 1024} kB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise open311.BadRequest(f"the request body is larger than {MAX_BODY // 1024} kB")
    pairs = list(request.query_params.multi_items())
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("", "application/x-www-form-urlencoded"):
        try:
            text = bytes(body).decode("utf-8")
            pairs += parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except UnicodeDecodeError:
            raise open311.BadRequest("the request body is not UTF-8") from None
        except ValueError:
            raise open311.BadRequest(f"the request body has more than {MAX_FIELDS} fields") from None
    elif kind == "multipart/form-data":
        request._body = bytes(body)  # read once above, under the cap; form() parses it from here
        form = await request.form(max_fields=MAX_FIELDS, max_files=10)
        try:
            check_form(form)
            pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        finally:
            await form.close()
    else:
        raise open311.BadRequest("the request body must be application/x-www-form-urlencoded (or "
                                 f"multipart/form-data), not {kind[:60]}")
    args = schemas.Arguments(pairs)
    open311.check_jurisdiction(args.first("jurisdiction_id"))
    return args


FormDep = Depends(form_arguments)


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    fmt = _fmt(fmt)
    _query(request)
    return _answer(fmt, "discovery", open311.discovery(str(request.base_url).rstrip("/") + PREFIX))


@router.get("/services.{fmt}")
def services(fmt: str, request: Request, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    _query(request)
    return _answer(fmt, "services", [s.document() for s in open311.list_services(session)])


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, request: Request, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    _query(request)
    return _answer(fmt, "service_definition", open311.get_service(session, service_code).definition())


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request, session: SessionDep, settings: SettingsDep,
                  clock: ClockDep) -> Response:
    fmt = _fmt(fmt)
    query = schemas.request_query(_query(request), settings.tz)
    return _answer(fmt, "service_requests", open311.find_requests(session, settings, clock, query))


@router.post("/requests.{fmt}")
def create_request(fmt: str, request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep,
                   args: schemas.Arguments = FormDep) -> Response:
    fmt = _fmt(fmt)
    key = open311.check_key(session, args.first("api_key"))
    idempotency_key = request.headers.get("idempotency-key")
    made = open311.create(session, key, clock, settings, schemas.submission(args), idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if made.replayed else None
    return _answer(fmt, "service_requests", [{"service_request_id": made.number, "service_notice": made.notice,
                                              "account_id": made.account_id}], headers)


@router.get("/requests/{service_request_id}.{fmt}")
def get_request(service_request_id: str, fmt: str, request: Request, session: SessionDep,
                settings: SettingsDep) -> Response:
    fmt = _fmt(fmt)
    args = _query(request)
    return _answer(fmt, "service_requests", open311.get_request(session, settings, service_request_id,
                                                                schemas.flag(args, "extensions")))


@router.get("/tokens/{token}.{fmt}")
def get_token(token: str, fmt: str, request: Request, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    _query(request)
    return _answer(fmt, "service_requests", open311.token(session, token))


@router.get("/servicerequestupdates.{fmt}")
def service_request_updates(fmt: str, request: Request, session: SessionDep, settings: SettingsDep,
                            clock: ClockDep) -> Response:
    """[ext] mySociety / FixMyStreet: the requests' updates in a window of updated_datetime."""
    fmt = _fmt(fmt)
    query = schemas.request_query(_query(request), settings.tz)
    return _answer(fmt, "service_request_updates", open311.find_updates(session, settings, clock, query))


_RESOURCES = [r for r in router.routes if isinstance(r, APIRoute)]


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def anything_else(rest: str, request: Request) -> Response:
    known = [r for r in _RESOURCES if r.path_regex.match(request.url.path)]
    if known:
        allowed = ", ".join(sorted({m for r in known for m in r.methods}))
        raise open311.BadRequest(f"{request.method} is not allowed on {PREFIX}/{rest[:80]} (only {allowed})")
    raise open311.UnknownResource(f"no resource {PREFIX}/{rest[:80]}: the resources are discovery, services, "
                                  "services/{service_code}, requests, requests/{service_request_id}, "
                                  "tokens/{token} and servicerequestupdates, each .json or .xml")
