"""What crosses HTTP: the query arguments and the POST form, read into the service's plain objects.

Everything arrives as text. An empty argument is the same as an absent one (the spec's 1.5); a repeated one
is read as its comma-joined values. A value that cannot be read is a BadRequest naming the argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, tzinfo

from jiesu.open311 import catalog
from jiesu.open311.service import (
    MAX_IDS,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    BadRequest,
    RequestQuery,
    Submission,
)

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
_SCALARS = ("service_code", "lat", "long", "address_string", "address_id", "description", "media_url", "email",
            "device_id", "account_id", "first_name", "last_name", "phone", "request_type")
MAX_ATTRIBUTE_VALUES = 50


class Arguments:
    """Query or form arguments by name, each a list of its non-empty values."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.values: dict[str, list[str]] = {}
        for name, value in pairs:
            if isinstance(value, str) and value.strip():
                self.values.setdefault(name, []).append(value)

    def one(self, name: str) -> str | None:
        values = self.values.get(name)
        return ",".join(values) if values else None

    def first(self, name: str) -> str | None:
        values = self.values.get(name)
        return values[0] if values else None

    def items(self) -> Iterable[tuple[str, list[str]]]:
        return self.values.items()


def _list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _datetime(args: Arguments, name: str, tz: tzinfo) -> datetime | None:
    value = args.one(name)
    if value is None:
        return None
    try:
        return catalog.parse_datetime(value, tz)
    except ValueError:
        raise BadRequest(f"{name} must be a W3C datetime, e.g. 2024-01-01T00:00:00Z or "
                         f"2024-01-01T08:00:00+08:00, not {value[:40]!r}") from None


def _int(args: Arguments, name: str, low: int, high: int) -> int | None:
    value = args.one(name)
    if value is None:
        return None
    if not value.strip().isdigit() or not (low <= int(value) <= high):
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, not {value[:20]!r}")
    return int(value)


def flag(args: Arguments, name: str) -> bool:
    value = (args.one(name) or "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise BadRequest(f"{name} must be true or false, not {value[:20]!r}")


def request_query(args: Arguments, tz: tzinfo) -> RequestQuery:
    ids = _list(args.one("service_request_id"))
    if len(ids) > MAX_IDS:
        raise BadRequest(f"service_request_id lists at most {MAX_IDS} ids")
    statuses = {s.lower() for s in _list(args.one("status"))}
    if statuses - {"open", "closed"}:
        raise BadRequest("status must be open, closed or open,closed")
    return RequestQuery(ids=ids, service_codes=_list(args.one("service_code")),
                        start=_datetime(args, "start_date", tz), end=_datetime(args, "end_date", tz),
                        statuses=statuses, updated_after=_datetime(args, "updated_after", tz),
                        updated_before=_datetime(args, "updated_before", tz),
                        page=_int(args, "page", 1, MAX_PAGE) or 1,
                        page_size=_int(args, "page_size", 1, MAX_PAGE_SIZE), extensions=flag(args, "extensions"))


def submission(args: Arguments) -> Submission:
    sub = Submission(**{name: args.first(name) for name in _SCALARS})
    for name, values in args.items():
        m = _ATTRIBUTE.match(name)
        if m:
            sub.attributes.setdefault(m.group(1), []).extend(values)
        elif name.startswith("attribute["):
            raise BadRequest(f"{name[:80]} is not attribute[CODE] or attribute[CODE][]")
    if any(len(v) > MAX_ATTRIBUTE_VALUES for v in sub.attributes.values()):
        raise BadRequest(f"an attribute takes at most {MAX_ATTRIBUTE_VALUES} values")
    return sub
