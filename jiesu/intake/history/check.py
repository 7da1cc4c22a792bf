"""Checking the rows read: each becomes a Good record (times in UTC, enums as member names, places, units and
categories as ids) or a Bad one, with the field and the reason. Lookup tables of places, units and categories
are loaded once; a free-text place is resolved once per distinct text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.callback.models import Resolution, Satisfaction
from jiesu.config import Settings
from jiesu.intake.history.read import COLUMNS, Bad
from jiesu.limits import MAX_ADDRESS, MAX_CODE, MAX_REASON, MAX_TEXT, MAX_TITLE
from jiesu.places.models import Area
from jiesu.places.resolve import MAX_TEXT_LENGTH, resolver_for
from jiesu.taxonomy import models as taxonomy
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, URGENCY_LABELS, Category, RequestType, Urgency
from jiesu.tickets.rules import STATE_LABELS, TicketState
from jiesu.units.models import Unit

# The values of a row read, in COLUMNS order.
(C_NUMBER, C_CREATED, C_TEXT, C_TITLE, C_TYPE, C_URGENCY, C_ADDRESS, C_PLACE, C_DISTRICT, C_STREET, C_COMMUNITY,
 C_CATEGORY, C_UNIT, C_STATE, C_DISPATCHED, C_SIGNED, C_REPLIED, C_CLOSED, C_SIGN_BY, C_REPLY, C_CB_AT,
 C_CB_REACHED, C_CB_CONTACTED, C_CB_RESOLUTION, C_CB_SATISFACTION, C_CB_COMMENT) = range(len(COLUMNS))
MAX_NUMBER, MAX_COMMENT = MAX_CODE, MAX_REASON  # a ticket's number; a callback's comment

TRUE = frozenset({"true", "t", "1", "yes", "y", "是", "对"})
FALSE = frozenset({"false", "f", "0", "no", "n", "否"})


def _names(enum: type, labels: Mapping, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """What a file may write for each member (its value, name or Chinese label) -> the member's NAME, which
    is what SQLAlchemy's non-native Enum columns store."""
    members = {m.value: m for m in enum} | {m.name: m for m in enum} | {v: m for m, v in labels.items()}
    return {k: m.name for k, m in (members | dict(extra or {})).items()}


STATES = _names(TicketState, STATE_LABELS, {"办结": TicketState.closed, "撤回": TicketState.withdrawn,
                                            "并单": TicketState.merged, "待回访": TicketState.replied})
STATE_VALUES = {s.name: s.value for s in TicketState}
NEEDS_UNIT = frozenset(s.name for s in (TicketState.dispatched, TicketState.handling, TicketState.returned,
                                        TicketState.replied))
URGENCIES = _names(Urgency, URGENCY_LABELS, {"疑难复杂": Urgency.complex, "普通": Urgency.normal})
REQUEST_TYPES = _names(RequestType, REQUEST_TYPE_LABELS)
_R, _S = Resolution, Satisfaction
RESOLUTIONS = {k: (m.name, score) for m, score, keys in (
    (_R.resolved, 2, ("resolved", "已解决", "解决", "2")), (_R.partly, 1, ("partly", "部分解决", "1")),
    (_R.unresolved, 0, ("unresolved", "未解决", "0"))) for k in keys}
SATISFACTIONS = {k: (m.name, score) for m, score, keys in (
    (_S.satisfied, 2, ("satisfied", "满意", "2")), (_S.basically, 1, ("basically", "基本满意", "1")),
    (_S.unsatisfied, 0, ("unsatisfied", "不满意", "0"))) for k in keys}
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                 "%Y%m%d%H%M%S", "%Y%m%d")


AMBIGUOUS = -1
Policy = taxonomy.DeadlinePolicy


class Lookups:
    """Places, units and categories, loaded once; free-text places resolved once per distinct text."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.areas: dict[str, tuple[int, str | None]] = {}
        self.parents: dict[str, tuple[str | None, str | None]] = {}
        for aid, code, street, district in session.execute(select(Area.id, Area.code, Area.street_code,
                                                                  Area.district_code)):
            self.areas[code] = (aid, district)
            self.parents[code] = (street, district)
        self.units = self._by_key(session.execute(select(Unit.id, Unit.code, Unit.name)))
        self.unit_codes = dict(session.execute(select(Unit.id, Unit.code)).all())  # events name units by code
        self.categories = self._by_key(session.execute(select(Category.id, Category.code, Category.path,
                                                              Category.name)))
        self.category_codes = dict(session.execute(select(Category.id, Category.code)).all())
        # Hours to sign by (scope, urgency name): the deadline policies, loaded now, as the writers' threads will
        # hold the session; taxonomy.policy_for's rule applied in sign_hours.
        self.sign_within = {(scope, urgency.name): hours for scope, urgency, hours in session.execute(
            select(Policy.scope, Policy.urgency, Policy.sign_within_hours))}
        self._sign_hours: dict[tuple[int | None, str], float | None] = {}
        self.places: dict[str, tuple[int, str | None] | Bad] = {}
        self._resolver = None

    @staticmethod
    def _by_key(rows) -> dict[str, int]:
        """id by code (and path), then by name where only one row has that name."""
        out: dict[str, int] = {}
        names: dict[str, int] = {}
        for rid, *keys, name in rows:
            for k in keys:
                out[k] = rid
            names[name] = AMBIGUOUS if name in names else rid
        for name, rid in names.items():
            out.setdefault(name, rid)
        return out

    def sign_hours(self, category_id: int | None, urgency: str) -> float | None:
        """The policy's hours to sign (taxonomy.policy_for: the category, its ancestors, then '*'); None when
        there is no policy for that urgency."""
        key = (category_id, urgency)
        if key not in self._sign_hours:
            code = self.category_codes.get(category_id)
            scopes = [".".join(code.split(".")[:i]) for i in range(code.count(".") + 1, 0, -1)] if code else []
            self._sign_hours[key] = next((self.sign_within[(s, urgency)] for s in [*scopes, taxonomy.DEFAULT_SCOPE]
                                          if (s, urgency) in self.sign_within), None)
        return self._sign_hours[key]

    def load_resolver(self) -> None:
        if self._resolver is None:
            self._resolver = resolver_for(self.session)

    def place(self, text: str) -> tuple[int, str | None]:
        found = self.places.get(text)
        if found is None:
            found = self.places[text] = self._resolve(text)
        if isinstance(found, Bad):
            raise Bad(found.field, found.reason)  # a fresh one: a raised exception keeps its traceback
        return found

    def _resolve(self, text: str) -> tuple[int, str | None] | Bad:
        if text in self.areas:
            return self.areas[text]
        self.load_resolver()
        r = self._resolver.resolve(text[:MAX_TEXT_LENGTH])
        if r.ambiguous and r.alternatives:
            paths = "; ".join(a.path for a in r.alternatives[:4])
            return Bad("place", f"{text!r} may be any of {paths}: give the street_code or community_code")
        if r.best is None or r.best.code not in self.areas:
            return Bad("place", f"no known place in {text!r}")
        return self.areas[r.best.code]


@dataclass(slots=True)
class Good:
    """One checked row, ready to write. Times are naive UTC; enums are member names."""

    line: int
    number: str
    text: str
    title: str
    request_type: str
    urgency: str
    address: str
    area_id: int | None
    district_code: str | None
    category_id: int | None
    unit_id: int | None
    state: str
    created_at: datetime
    dispatched_at: datetime | None
    signed_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    payload: str
    # (at, reached, contacted, resolution, satisfaction, comment, period, kind, resolution score,
    #  satisfaction score, attempt), or None
    callback: tuple | None
    # The response rate's fact (assessment.SignFact): (period, dispatched_at, sign_by, signed_at, status), or
    # None when the old system did not keep what it needs
    sign: tuple | None = None
    sign_by_policy: bool = False  # its sign_by from the deadline policy, the file having none


def _json_text(s: str) -> str:
    """A JSON string: quoted as it is when nothing in it needs escaping (the usual case), else json.dumps."""
    if s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    return json.dumps(s, ensure_ascii=False)


class Checker:
    def __init__(self, lookups: Lookups, settings: Settings) -> None:
        self.lk = lookups
        self.tz = settings.tz
        self.start_day = settings.assess_month_start_day
        self.attempts = settings.callback_attempts
        self.seen: set[str] = set()  # numbers of the good rows so far

    def time(self, s: str, name: str) -> tuple[datetime, datetime]:
        """A time as (naive UTC, naive local)."""
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            dt = None
            for fmt in _TIME_FORMATS:
                try:
                    dt = datetime.strptime(s, fmt)  # noqa: DTZ007 - local wall time, zoned below
                    break
                except ValueError:
                    continue
            if dt is None:
                raise Bad(name, f"{s!r} is not a time (2023-03-11 08:15:00, or ISO 8601 with an offset)") from None
        if not 1970 <= dt.year < 2100:
            raise Bad(name, f"{s!r} is not a time of this system's life (1970-2099)")
        if dt.tzinfo is None:
            return dt - self.tz.utcoffset(dt), dt
        return dt.astimezone(UTC).replace(tzinfo=None), dt.astimezone(self.tz).replace(tzinfo=None)

    def period(self, local: datetime) -> str:
        """assessment.rules.period_of, from the local time at hand."""
        y, m = local.year, local.month
        if self.start_day > 1 and local.day >= self.start_day:
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return f"{y:04d}-{m:02d}"

    def check(self, line: int, v: tuple[str, ...]) -> Good:  # noqa: C901 - one field after the other
        number = v[C_NUMBER].strip()
        if not number:
            raise Bad("number", "the old system's number is missing")
        if len(number) > MAX_NUMBER:
            raise Bad("number", f"longer than {MAX_NUMBER} characters")
        if number in self.seen:
            raise Bad("number", f"{number} appears earlier in the file: a duplicate")
        text = v[C_TEXT].strip()
        if not text:
            raise Bad("text", "the request's text is empty")
        if len(text) > MAX_TEXT:
            raise Bad("text", f"longer than {MAX_TEXT} characters")
        title, address = v[C_TITLE].strip(), v[C_ADDRESS].strip()
        if len(title) > MAX_TITLE:
            raise Bad("title", f"longer than {MAX_TITLE} characters")
        if len(address) > MAX_ADDRESS:
            raise Bad("address", f"longer than {MAX_ADDRESS} characters")

        raw = v[C_CREATED].strip()
        if not raw:
            raise Bad("created_at", "the time the request came in is missing")
        created = self.time(raw, "created_at")[0]
        dispatched = signed = replied = closed = sign_by = dispatched_local = None
        stamps = [f'"created_at": "{created.isoformat()}Z"']
        for col, name in ((C_DISPATCHED, "dispatched_at"), (C_SIGNED, "signed_at"), (C_REPLIED, "replied_at"),
                          (C_CLOSED, "closed_at"), (C_SIGN_BY, "sign_by")):
            raw = v[col].strip()
            if raw:
                t, local = self.time(raw, name)
                if t < created:
                    raise Bad(name, f"{name} is before created_at")
                if col in (C_SIGNED, C_SIGN_BY) and dispatched is not None and t < dispatched:
                    raise Bad(name, f"{name} is before dispatched_at")
                if col != C_SIGN_BY:  # the deadline goes into the payload with the unit, below
                    stamps.append(f'"{name}": "{t.isoformat()}Z"')
                if col == C_DISPATCHED:
                    dispatched, dispatched_local = t, local
                elif col == C_SIGN_BY:
                    sign_by = t
                elif col == C_SIGNED:
                    signed = t
                elif col == C_REPLIED:
                    replied = t
                else:
                    closed = t

        raw = v[C_STATE].strip()
        state = (STATES.get(raw) or STATES.get(raw.lower())) if raw else "closed"
        if state is None:
            raise Bad("state", f"unknown state {raw!r} (closed, withdrawn, merged ... or 已办结 ...)")
        raw = v[C_TYPE].strip()
        request_type = (REQUEST_TYPES.get(raw) or REQUEST_TYPES.get(raw.lower())) if raw else "complaint"
        if request_type is None:
            raise Bad("request_type", f"unknown request type {raw!r} (inquiry, help, complaint ... or 投诉 ...)")
        raw = v[C_URGENCY].strip()
        urgency = (URGENCIES.get(raw) or URGENCIES.get(raw.lower())) if raw else "normal"
        if urgency is None:
            raise Bad("urgency", f"unknown urgency {raw!r} (emergency, normal, complex or 紧急/一般/疑难)")

        lk = self.lk
        area_id = district = None
        community, street, district_code = v[C_COMMUNITY].strip(), v[C_STREET].strip(), v[C_DISTRICT].strip()
        if community or street or district_code:
            given = [(n, c) for n, c in (("community_code", community), ("street_code", street),
                                         ("district_code", district_code)) if c]
            name, code = given[0]  # the deepest
            found = lk.areas.get(code)
            if found is None:
                raise Bad(name, f"no place with code {code}")
            area_id, district = found
            above = lk.parents[code]
            for name, up in given[1:]:
                if up not in above:
                    raise Bad(name, f"{code} is not in {up}" if up in lk.areas else f"no place with code {up}")
        else:
            raw = v[C_PLACE].strip()
            if raw:
                area_id, district = lk.place(raw)

        category_id = None
        raw = v[C_CATEGORY].strip()
        if raw:
            category_id = lk.categories.get(raw)
            if category_id is None:
                raise Bad("category", f"unknown category {raw!r} (a code, a path or a name)")
            if category_id == AMBIGUOUS:
                raise Bad("category", f"several categories are called {raw!r}: give its code or path")
        unit_id = None
        raw = v[C_UNIT].strip()
        if raw:
            unit_id = lk.units.get(raw)
            if unit_id is None:
                raise Bad("unit", f"unknown unit {raw!r} (its code or exact name)")
            if unit_id == AMBIGUOUS:
                raise Bad("unit", f"several units are called {raw!r}: give its code")
        elif state in NEEDS_UNIT:
            raise Bad("unit", f"a {state} ticket needs its unit")

        sign, sign_by_policy = None, False
        # The response rate's fact, when the old system kept what it needs: the unit, the dispatch and the signing
        # (or the ticket still waits for it). A ticket past dispatch with no sign time was signed when nobody
        # knows: left empty, not guessed.
        if unit_id is not None and dispatched is not None and (signed is not None or state == "dispatched"):
            if sign_by is None:
                hours = lk.sign_hours(category_id, urgency)
                if hours is not None:
                    sign_by, sign_by_policy = dispatched + timedelta(hours=hours), True
            if sign_by is not None:
                status = "open" if signed is None else "on_time" if signed <= sign_by else "late"
                sign = (self.period(dispatched_local), dispatched, sign_by, signed, status)
                stamps.append(f'"unit": {_json_text(lk.unit_codes[unit_id])}, "sign_by": "{sign_by.isoformat()}Z"')

        callback = None
        if v[C_CB_AT] or v[C_CB_REACHED] or v[C_CB_CONTACTED] or v[C_CB_RESOLUTION] or v[C_CB_SATISFACTION]:
            callback = self._callback(v, created, unit_id)

        reply = v[C_REPLY].strip()
        if reply:
            stamps.append(f'"reply": {_json_text(reply)}')
        payload = (f'{{"number": {_json_text(number)}, "state": "{STATE_VALUES[state]}", ' + ", ".join(stamps)
                   + "}")
        self.seen.add(number)
        return Good(line, number, text, title, request_type, urgency, address, area_id, district, category_id,
                     unit_id, state, created, dispatched, signed, replied, closed, payload, callback, sign,
                     sign_by_policy)

    def _callback(self, v: tuple[str, ...], created: datetime, unit_id: int | None) -> tuple:
        if unit_id is None:
            raise Bad("unit", "a callback judges the ticket's unit: give the unit")
        raw = v[C_CB_AT].strip() or v[C_CLOSED].strip() or v[C_REPLIED].strip()
        if not raw:
            raise Bad("callback_at", "the callback's time is missing (nor closed_at or replied_at to take)")
        at, local = self.time(raw, "callback_at")
        if at < created:
            raise Bad("callback_at", "callback_at is before created_at")
        res_raw, sat_raw = v[C_CB_RESOLUTION].strip(), v[C_CB_SATISFACTION].strip()
        reached = self._bool(v[C_CB_REACHED], "callback_reached")
        contacted = self._bool(v[C_CB_CONTACTED], "callback_contacted")
        comment = v[C_CB_COMMENT].strip()
        if len(comment) > MAX_COMMENT:
            raise Bad("callback_comment", f"longer than {MAX_COMMENT} characters")
        if reached is None:
            if not (res_raw or sat_raw):
                raise Bad("callback_reached", "say whether the citizen was reached (true/false)")
            reached = True
        if not reached:
            if res_raw or sat_raw or contacted is not None:
                raise Bad("callback_reached", "a citizen who was not reached gave no answers")
            return (at, False, None, None, None, comment, self.period(local), "unreachable", 0, 0, self.attempts)
        if contacted is None:
            raise Bad("callback_contacted", "a reached citizen's callback needs contacted (true/false)")
        res = RESOLUTIONS.get(res_raw) or RESOLUTIONS.get(res_raw.lower())
        if res is None:
            raise Bad("callback_resolution", f"{res_raw!r} is not resolved, partly or unresolved (已解决/部分解决/"
                       "未解决)" if res_raw else "a reached citizen's callback needs the resolution")
        sat = SATISFACTIONS.get(sat_raw) or SATISFACTIONS.get(sat_raw.lower())
        if sat is None:
            raise Bad("callback_satisfaction", f"{sat_raw!r} is not satisfied, basically or unsatisfied (满意/"
                       "基本满意/不满意)" if sat_raw else "a reached citizen's callback needs the satisfaction")
        return (at, True, contacted, res[0], sat[0], comment, self.period(local), "callback", res[1], sat[1], 1)

    @staticmethod
    def _bool(raw: str, name: str) -> bool | None:
        s = raw.strip().lower()
        if not s:
            return None
        if s in TRUE:
            return True
        if s in FALSE:
            return False
        raise Bad(name, f"{raw!r} is not true or false (是/否)")
