"""Every error leaves in one JSON shape: {"error": {"code", "message", "field", "details"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jiesu.errors import AuthenticationFailed, DomainError

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
    422: "invalid input; `field` names it",
}


def responses(*statuses: int, notes: dict[int, str] | None = None) -> dict[int | str, dict]:
    """OpenAPI `responses` for the error statuses an operation can return, all in the one error shape."""
    notes = notes or {}
    return {s: {"model": ErrorOut, "description": notes.get(s, ERROR_DESCRIPTIONS[s])} for s in statuses}


def _field_of(loc: tuple | list) -> str:
    # ("query", "limit") -> "limit"; ("body", "username") -> "username"; ("body",) -> "body"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or (str(loc[0]) if loc else "request")


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationFailed) else None
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        details = [{"field": _field_of(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
                   for e in errors]
        first = details[0] if details else {"field": "request", "message": "invalid request"}
        return JSONResponse(error_body("invalid_input", f"{first['field']}: {first['message']}", first["field"],
                                       details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique value, or a row vanished under a reference.
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse(error_body("conflict", "the change conflicts with data written meanwhile; "
                                       "nothing was saved, reload and try again"), status_code=409)

    @app.exception_handler(OperationalError)
    async def operational_error(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse(error_body("unavailable", "the database is busy or unreachable; nothing was saved, "
                                       "try again"), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "internal error; it has been logged"), status_code=500)
