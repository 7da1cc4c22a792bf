"""What keeps a logged-in person's browser from being used by another site: a CSRF token bound to the login
session on every form that changes state, an Origin (or Referer) check on every unsafe request, and the
security headers every response carries.

The token lives in the signed session cookie (Starlette's SessionMiddleware), so it is bound to this browser's
session and rotates with it; forms carry it as a hidden field and the pages' scripts send it as the
`X-CSRF-Token` header when they write through the API with the login cookie.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from markupsafe import Markup, escape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jiesu.api import edge
from jiesu.errors import PermissionDenied

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SESSION_KEY = "csrf"
SESSION_COOKIE = "jiesu_session"  # the login cookie (app.py sets SessionMiddleware's name to this)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The pages load only their own scripts and styles (plotly.js is served from here). Plotly adds <style>
# elements as it draws, hence 'unsafe-inline' for styles only; scripts never run inline.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
               "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
               "frame-ancestors 'none'")
# Swagger UI (/docs) starts itself with an inline script.
DOCS_POLICY = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


class CsrfRefused(PermissionDenied):
    """A state-changing request that did not come from one of this site's own pages."""


def token(request: Request) -> str:
    """This session's token, made on first use."""
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = value
    return value


def hidden_field(request: Request) -> Markup:
    """The hidden input every state-changing form carries: {{ csrf() }} in a template."""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(token(request))}">')


def _same_origin(request: Request, value: str) -> bool:
    parts = urlsplit(value)
    host = request.headers.get("host", "")
    return bool(parts.scheme in ("http", "https") and parts.netloc and host and parts.netloc.lower() == host.lower())


def check_origin(request: Request) -> None:
    """An unsafe request that says where it comes from must come from this host and port. Programs send
    neither header and are let through here (they authenticate with a bearer token, which a browser never
    sends by itself); a browser always sends Origin on a POST."""
    if request.method not in UNSAFE:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if not _same_origin(request, origin):
            raise CsrfRefused("the request comes from another site", field="Origin")
        return
    referer = request.headers.get("referer")
    if origin == "null" or (referer and not _same_origin(request, referer)):
        raise CsrfRefused("the request comes from another site", field="Referer")


def _matches(request: Request, sent: object) -> bool:
    expected = request.session.get(SESSION_KEY)
    return (isinstance(sent, str) and isinstance(expected, str) and bool(expected)
            and hmac.compare_digest(sent.encode(), expected.encode()))


async def require_form_token(request: Request) -> None:
    """The pages' routers depend on this: an unsafe request needs its origin and the session's token in
    the form (or the header, for a script)."""
    if request.method not in UNSAFE:
        return
    check_origin(request)
    sent, form = request.headers.get(HEADER), None
    if sent is None or request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form()  # parsed once: the handler's Form() parameters read the same copy
        sent = form.get(FIELD) if sent is None else sent
    if not _matches(request, sent):
        raise CsrfRefused("this form has expired or did not come from this site: reload the page and try again",
                          field=FIELD)
    if form is not None:
        # A urlencoded form's text was checked at the edge already (api/edge.py); a multipart one is checked
        # here, where it is parsed: every field and file name must be text a database can hold.
        edge.check_form(form)


def check_api_cookie(request: Request) -> None:
    """The API with the login cookie (the pages' scripts) instead of a bearer token: an unsafe request needs
    the same origin and the token as a header."""
    if request.method not in UNSAFE:
        return
    check_origin(request)
    if not _matches(request, request.headers.get(HEADER)):
        raise CsrfRefused("a write with the login cookie needs the X-CSRF-Token header of the page",
                          field="X-CSRF-Token")


class SecurityHeaders:
    """Pure ASGI middleware: the headers every response carries, the API's and Open311's JSON and XML as the
    pages: the content security policy, nosniff, no framing, the referrer kept to this site; and `Cache-Control:
    no-store` on what a request with credentials gets back (a bearer token, the login cookie, an Open311 api_key)
    and on the login's answer (a token), unless the route chose its own caching. The static files are public.

    app.py wraps the whole application in it, outside Starlette's ServerErrorMiddleware, so that a 500 carries
    the headers too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = DOCS_POLICY if path == "/docs" else PAGE_POLICY
        private = not path.startswith("/static/") and (path.startswith("/api/v1/auth/") or _credentials(scope))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in ((b"content-security-policy", policy), (b"x-content-type-options", "nosniff"),
                                   (b"x-frame-options", "DENY"), (b"referrer-policy", "same-origin")):
                    if key not in present:
                        headers.append((key, value.encode()))
                if private and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _credentials(scope: Scope) -> bool:
    """Whether a request carries a credential: a bearer token, the login cookie, or an Open311 api_key in its
    query string."""
    for key, value in scope.get("headers", []):
        if key == b"authorization" or (key == b"cookie" and SESSION_COOKIE.encode() + b"=" in value):
            return True
    return b"api_key=" in scope.get("query_string", b"")
