"""Every API error leaves in one JSON shape: {"error": {"code", "message", "field", "details"}}.

A browser asking for a page (Accept: text/html, outside /api/) gets the same status as a page instead."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from jiesu.api.edge import Refused
from jiesu.errors import AuthenticationFailed, DomainError, TooManyAttempts
from jiesu.tickets import refusals

log = logging.getLogger("jiesu.api")


def error_body(code: str, message: str, field: str | None = None, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field, "details": details or []}}


class ErrorDetail(BaseModel):
    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None
    details: list[ErrorDetail]


class ErrorOut(BaseModel):
    """What every error response carries; documented so that clients generated from the OpenAPI
    description parse errors (422 included) as they really are, not as FastAPI's default {"detail": ...}."""

    error: ErrorBody


ERROR_DESCRIPTIONS = {
    401: "not logged in, or a bad or expired token",
    403: "this role may not do this",
    404: "no such resource",
    409: "conflicts with what exists",
    413: "the request body is larger than this resource takes",
    422: "invalid input; `field` names it",
    429: "too many logins in a row without a success, for this username from this address: it waits a while",
}


# What a POST that takes an Idempotency-Key may answer beyond the usual (IETF draft "The Idempotency-Key HTTP
# Header Field"): the key is the sender's own; sent again with a different request, it is refused.
IDEMPOTENCY_NOTES = {
    409: "the request with this Idempotency-Key vanished meanwhile: send it again",
    422: "a field is wrong (named in `error.field`), or this Idempotency-Key was sent before with a different "
         "request (field `Idempotency-Key`): a new request needs a new key",
}


def responses(*statuses: int, notes: dict[int, str] | None = None) -> dict[int | str, dict]:
    """OpenAPI `responses` for the error statuses an operation can return, all in the one error shape."""
    notes = notes or {}
    return {s: {"model": ErrorOut, "description": notes.get(s, ERROR_DESCRIPTIONS[s])} for s in statuses}


def _field_of(loc: tuple | list) -> str:
    # ("query", "limit") -> "limit"; ("body", "username") -> "username"; ("body",) -> "body"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or (str(loc[0]) if loc else "request")


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API): it gets the error as a page in the site's layout."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


# The error as a page in the site's layout (jiesu.web.pages.html_error, given by the app: the pages sit beside
# the API and import its dependencies, so the API does not import them).
PageRenderer = Callable[..., Response]


def said(request: Request, exc: DomainError) -> str:
    """The error's message in the client's language: the Chinese sentence (tickets.refusals) when its
    Accept-Language prefers Chinese and the refusal has one; otherwise the English message, unchanged."""
    if refusals.wants_chinese(request.headers.get("accept-language")):
        return refusals.known(exc.code, exc.field, exc.message) or exc.message
    return exc.message


def install(app: FastAPI, render_page: PageRenderer,
            shapes: Mapping[str, Callable[[Request, Exception], Response]] | None = None,
            ) -> Callable[[Request, Refused], Awaitable[Response]]:
    """The exception handlers; returns the one that answers a refusal at the edge (api/edge.py), for the edge
    middleware to answer with outside the routes. `shapes`: {path prefix: answer} for the paths whose errors
    leave in their own shape (Open311's error document), whatever raised them and wherever: in the route, or
    after it, when the request's session commits."""

    async def html_error(request: Request, status: int, *, field: str | None = None,
                         headers: dict[str, str] | None = None) -> Response:
        return await run_in_threadpool(render_page, request, status, field=field, headers=headers)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationFailed) else None
        if isinstance(exc, TooManyAttempts):
            headers = {**(headers or {}), "Retry-After": str(exc.retry_after)}
        if wants_html(request):
            return await html_error(request, exc.status, field=exc.field, headers=headers)
        return JSONResponse(error_body(exc.code, said(request, exc), exc.field), status_code=exc.status,
                            headers=headers)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        if wants_html(request):
            return await html_error(request, exc.status_code, field=exc.field)
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        details = [{"field": _field_of(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
                   for e in errors]
        first = details[0] if details else {"field": "request", "message": "invalid request"}
        if wants_html(request):
            return await html_error(request, 422, field=first["field"])
        return JSONResponse(error_body("invalid_input", f"{first['field']}: {first['message']}", first["field"],
                                       details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if wants_html(request):
            return await html_error(request, exc.status_code, headers=headers)
        if exc.status_code == 400:
            # The framework's "There was an error parsing the body" (a body that is not UTF-8 JSON, or a broken
            # form): bad input like any other, answered 422 with the field named, as an invalid JSON body is.
            return JSONResponse(error_body("invalid_input", f"body: {exc.detail}", "body"), status_code=422,
                                headers=headers)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> Response:
        # Two requests raced for the same unique value, or a row vanished under a reference.
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        if wants_html(request):
            return await html_error(request, 409)
        return JSONResponse(error_body("conflict", "the change conflicts with data written meanwhile; "
                                       "nothing was saved, reload and try again"), status_code=409)

    async def unavailable(request: Request, exc: Exception) -> Response:
        # The database is away (restarting, unreachable, refusing connections) or every pooled connection is in
        # use past the pool's timeout: nothing was saved, and the same request later will do.
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, getattr(exc, "orig", exc))
        if wants_html(request):
            return await html_error(request, 503, headers={"Retry-After": "5"})
        return JSONResponse(error_body("unavailable", "the database is busy or unreachable; nothing was saved, "
                                       "try again"), status_code=503, headers={"Retry-After": "5"})

    app.add_exception_handler(OperationalError, unavailable)
    app.add_exception_handler(PoolTimeout, unavailable)

    @app.exception_handler(DBAPIError)
    async def driver_error(request: Request, exc: DBAPIError) -> Response:
        # A driver error other than OperationalError (e.g. InterfaceError) that SQLAlchemy recognised as a lost
        # connection is the database going away too; any other is a bug.
        if exc.connection_invalidated:
            return await unavailable(request, exc)
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_html(request):
            return await html_error(request, 500)
        return JSONResponse(error_body("internal_error", "internal error; it has been logged"), status_code=500)

    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _shaped(handler, shapes or {})
    return _shaped(refused, shapes or {})


def _shaped(handler, shapes: Mapping[str, Callable[[Request, Exception], Response]]):
    async def answer(request: Request, exc: Exception) -> Response:
        for prefix, shape in shapes.items():
            if request.url.path.startswith(prefix):
                return shape(request, exc)
        return await handler(request, exc)

    return answer
