"""The values a careless client or an attacker sends, shared by the fuzz passes (tests/conformance/test_fuzz_*.py
and the schemathesis pass): NUL, a lone surrogate, huge and negative numbers, far and plain dates, oversized
text. Each pass puts them into every field it finds and asserts that the answer is never a 5xx.

Text on the wire is UTF-8; a lone surrogate cannot be encoded as such, so it goes out as the bytes it would have
(CESU-8, b"\\xed\\xa0\\x80": what a broken client sends) in forms, queries and paths, and as the JSON escape
"\\ud800" in JSON bodies (valid JSON, an invalid string: json.loads gives Python a lone surrogate).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute

from jiesu.limits import MAX_TEXT

# The passes run on PostgreSQL, the production shape, only: NUL breaks nothing but PostgreSQL, and on SQLite the
# passes found only what they also found there (far dates), for 25 s more of the suite.
ON_POSTGRESQL = pytest.mark.parametrize("engine", ["postgresql"], indirect=True)

# (label, value): the label names the value in a failure's repro.
VALUES: list[tuple[str, str]] = [
    ("nul", "ab\x00cd"),
    ("surrogate", "\ud800"),
    ("huge", "1" + "0" * 30),
    ("negative", "-1"),
    ("not-a-number", "1e309"),
    ("year-1", "0001-01-01"),
    ("year-9999", "9999-12-31"),
    ("plain-date", "2026-12-01"),
    ("far-month", "9999-12"),
    ("far-datetime", "9999-12-31T23:59:59"),
    ("oversized", "长" * (MAX_TEXT + 1)),
]
LABELS = dict(VALUES)
NUMBERS = [(label, v) for label, v in VALUES if label in ("huge", "negative", "not-a-number")]
# For a text field read as text (a search, a name, a month): a number in it is only more text.
TEXTS = [pair for pair in VALUES if pair not in NUMBERS]
# The ones that break text on its way to the database (or past its limit): a pass that cannot afford every value
# in every field sends these to the fields it reads least.
TEXT_BREAKERS = [(label, v) for label, v in VALUES if label in ("nul", "surrogate", "oversized")]
MAX_URL = 60_000  # the test client refuses a URL of 64 kB or more (a server's request line stops sooner)
OVERSIZED_BODY = 2 * 1024 * 1024  # one body this large per POST route: refused, never a 5xx


def wire(value: str) -> bytes:
    """The bytes a value goes out as: UTF-8, a lone surrogate as its three bytes."""
    return value.encode("utf-8", "surrogatepass")


def q(value: str) -> str:
    """Percent-encoded for a query, a form body or a path segment."""
    return quote(wire(value), safe="")


def encode(pairs: list[tuple[str, str]]) -> str:
    """application/x-www-form-urlencoded (or a query string) from (name, value) pairs, surrogates included."""
    return "&".join(f"{q(k)}={q(v)}" for k, v in pairs)


def at_once(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Query fields sent together in one request, or one by one where together they would make too long a URL."""
    if not pairs:
        return []
    return [pairs] if len(encode(pairs)) < MAX_URL else [[p] for p in pairs]


def short(value: object, n: int = 40) -> str:
    """A value as a repro line shows it."""
    text = repr(value)
    return text if len(text) <= n else f"{text[:n]}...({len(str(value))} chars)"


def routes(app) -> list[tuple[str, APIRoute]]:
    """(full path, route) of every APIRoute the app answers, with the prefixes of the routers it includes.
    FastAPI 0.163 includes routers lazily: `app.routes` holds the included routers, not their routes."""
    found: list[tuple[str, APIRoute]] = []

    def walk(items, prefix: str) -> None:
        for r in items:
            included = getattr(r, "original_router", None)
            if included is not None:
                walk(included.routes, prefix + r.include_context.prefix)
            elif isinstance(r, APIRoute):
                found.append((prefix + r.path, r))

    walk(app.routes, "")
    return found
