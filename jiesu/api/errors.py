"""Every error leaves in one JSON shape: {"error": {"code", "message", "field", "details"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jiesu.errors import AuthenticationFailed, DomainError

log = logging.getLogger("jiesu.api")


def error_body(code: str, message: str, field: str | None = None, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field, "details": details or []}}


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

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "internal error; it has been logged"), status_code=500)
