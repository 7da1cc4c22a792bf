"""What comes in at the edge, checked once for every request (API, pages, Open311) before any route sees it.

- The path and every query parameter must be acceptable text (jiesu.inputs: no NUL, no lone surrogate): else
  422 naming `path` or the parameter.
- A body may be as large as its kind allows (body_limit; jiesu.limits): a larger Content-Length is refused at
  once with 413, and a body sent without one (chunked) is counted while it streams and refused when it passes
  the limit. A JSON or urlencoded body (small by that limit) is read here whole, and every string in it (keys
  too) must be acceptable text: else 422 naming the field's path (`text`, `co_units.0`). Multipart forms are
  checked where they are parsed (check_form: the pages' form check, the API's router, Open311's form reader).
- Whenever an answer starts before the client's body has arrived whole, the rest is read and dropped first (up
  to MAX_DRAIN_BYTES): a client that sends its whole body before reading (Python's http.client, requests,
  httpx) then reads the 413 or 422, instead of a connection reset.

Pure ASGI: it neither buffers a multipart body nor touches a response's body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jiesu import inputs
from jiesu.limits import MAX_DRAIN_BYTES, MAX_JSON_BYTES, MAX_OPEN311_BYTES, MAX_PHOTOS, MULTIPART_SLACK

OPEN311 = "/open311/"
API = "/api/"


class Refused(StarletteHTTPException):
    """A request refused at the edge: 413 (too large) or 422 (text that cannot be text). A subclass of the
    framework's HTTPException, so that raised while a route reads its body it passes through the framework's
    own body reading unchanged, to the handler in api/errors.py (or Open311's)."""

    def __init__(self, status: int, code: str, field: str, message: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.code, self.field, self.message = code, field, message


def bad_text(field: str, problem: str) -> Refused:
    return Refused(422, "invalid_input", field, f"{field}: {problem}")


def too_large(limit: int) -> Refused:
    return Refused(413, "too_large", "body", f"the request body is larger than {limit:,} bytes, the most this "
                                             "resource takes")


def body_limit(path: str, content_type: str, attachment_bytes: int) -> int:
    """The largest body a request may send: Open311's POST is small; a multipart form carries photos (one per
    API request, up to MAX_PHOTOS with a page's note or reply); everything else is JSON or a plain form."""
    if path.startswith(OPEN311):
        return MAX_OPEN311_BYTES
    if content_type == "multipart/form-data":
        return attachment_bytes * (1 if path.startswith(API) else MAX_PHOTOS) + MULTIPART_SLACK
    return MAX_JSON_BYTES


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type.startswith("application/") and (media_type.endswith("/json") or media_type.endswith("+json"))


def check_query(query_string: bytes) -> None:
    """Every query parameter's name and value, as the framework will read them."""
    if not query_string:
        return
    _check_pairs(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True), "query")


def _check_pairs(pairs: list[tuple[str, str]], where: str) -> None:
    for key, value in pairs:
        if problem := inputs.text_problem(key):
            raise bad_text(where, "a parameter's name " + problem)
        if problem := inputs.text_problem(value):
            raise bad_text(key, problem)


def check_json(body: bytes) -> None:
    """Every string of a JSON body; a body that is not JSON is left to the route (which answers 422)."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise bad_text("body", "is nested too deeply") from None
    except ValueError:
        return
    found = inputs.first_problem(value)
    if found:
        raise bad_text(*found)


def check_urlencoded(body: bytes) -> None:
    _check_pairs(parse_qsl(body.decode("latin-1"), keep_blank_values=True), "body")


def check_form(form: FormData) -> None:
    """A parsed form (multipart too): every field's name and text value, and every file's name."""
    for key, value in form.multi_items():
        if problem := inputs.text_problem(key):
            raise bad_text("body", "a field's name " + problem)
        text = (value.filename or "") if isinstance(value, UploadFile) else value
        if isinstance(text, str) and (problem := inputs.text_problem(text)):
            raise bad_text(key, ("the file's name " if isinstance(value, UploadFile) else "") + problem)


async def form_fields(request: Request) -> None:
    """A router's dependency: a multipart body's fields and file names (the framework parsed it already for
    a route that takes a form; parsed once here otherwise, within the edge's limit)."""
    if _media_type(request.headers.get("content-type", "")) == "multipart/form-data":
        check_form(await request.form())


class _Body:
    """The client's body as it arrives: counted against the limit, and drained (read and dropped) before an
    answer that starts while some of it is still on its way."""

    def __init__(self, receive: Receive, declared: int | None) -> None:
        self._receive = receive
        self.declared = declared
        self.received = 0
        self.done = False  # the last chunk (more_body False) arrived, or the client left

    async def next(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.done = not message.get("more_body", False)
        else:
            self.done = True
        return message

    async def drain(self) -> None:
        if self.done or (self.declared is not None and self.declared - self.received > MAX_DRAIN_BYTES):
            return  # nothing left, or too much to wait for: the server closes the connection after the answer
        start = self.received
        while not self.done and self.received - start <= MAX_DRAIN_BYTES:
            await self.next()

    async def read_all(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        while not self.done:
            message = await self.next()
            chunks.append(message.get("body", b""))
            if self.received > limit:
                raise too_large(limit)
        return b"".join(chunks)


Answer = Callable[[Request, Refused], Awaitable[Response]]


class Edge:
    """Pure ASGI middleware; `answer` renders a refusal (api/errors.py: JSON, a page, or Open311's document)."""

    def __init__(self, app: ASGIApp, answer: Answer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict((k.lower(), v) for k, v in scope.get("headers", []))
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        declared = int(length) if length.isdigit() else None
        body = _Body(receive, declared)
        started = False

        async def send_after_drain(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                await body.drain()
            await send(message)

        media_type = _media_type(headers.get(b"content-type", b"").decode("latin-1"))
        path: str = scope.get("path", "")
        settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
        attachment_bytes = int(getattr(settings, "max_attachment_mb", 10) * 1024 * 1024)
        limit = body_limit(path, media_type, attachment_bytes)
        try:
            if problem := inputs.text_problem(path):
                raise bad_text("path", problem)
            check_query(scope.get("query_string", b""))
            if declared is not None and declared > limit:
                raise too_large(limit)
            if media_type == "application/x-www-form-urlencoded" or _is_json(media_type):
                data = await body.read_all(limit)
                (check_json if _is_json(media_type) else check_urlencoded)(data)
                app_receive = _replay(data, body)
            else:
                app_receive = _limited(body, limit)
        except Refused as exc:
            await self._refuse(scope, body, send_after_drain, exc)
            return
        try:
            await self.app(scope, app_receive, send_after_drain)
        except Refused as exc:  # raised while streaming, where no handler caught it
            if started:
                raise
            await self._refuse(scope, body, send_after_drain, exc)

    async def _refuse(self, scope: Scope, body: _Body, send: Send, exc: Refused) -> None:
        async def nothing() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        request = Request(scope, nothing)
        response = await self.answer(request, exc)
        await response(scope, nothing, send)


def _replay(data: bytes, body: _Body) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        return await body.next()  # the body was read whole: this waits for the client to leave

    return receive


def _limited(body: _Body, limit: int) -> Receive:
    async def receive() -> Message:
        message = await body.next()
        if body.received > limit:
            raise too_large(limit)
        return message

    return receive
