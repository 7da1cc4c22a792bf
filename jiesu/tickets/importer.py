"""History import: the tickets a city brings from its older system, loaded in bulk.

`import_tickets` reads CSV or JSON Lines (one ticket a row: the old system's number, times, text, place,
category, unit, final state and callback answers), checks each row in plain Python against lookup tables
loaded once, and writes the good rows with the database's bulk path: COPY (binary) on PostgreSQL, batched
`executemany` on SQLite, ids taken up front (from the tables' sequences on PostgreSQL, above max(id) under
the write lock on SQLite). It is not a loop over the one-ticket service, which runs about 300 tickets/s.

Per ticket it writes what the workflow would have left behind, and nothing it would not:

- a Request (channel `import`, outcome ticket, created by "import", idempotency key `import:<number>`: the
  key makes a second run skip what the first loaded); no Contact: the old callers' names and phones stay in
  the old system;
- a Ticket numbered with the old system's number, in its final state, with its times, unit, category,
  place and urgency, version 1; no deadlines (sign_by and reply_by stay empty: the old system's are not
  known, so the clock never marks an imported ticket overdue; dispatch_by, which may not be empty, is the
  creation time);
- one TicketEvent (seq 1, action `import`, from nothing to the final state, actor "import", role admin, at
  the moment of the import), whose payload keeps the old timeline (times in UTC), so that the event log
  still replays to the state;
- when the row has callback answers, a Callback (channel `import`, round 0, at the callback time, judging
  the main unit) and the assessment's RateFact for that callback's month: `callback` when the citizen was
  reached, `unreachable` when not (that callback is written as the round's last attempt,
  `settings.callback_attempts`, as the callback desk ends a round, so that `assessment.direct_facts` reads
  the same fact back). The kept rollups of the months touched are dropped (`assessment.invalidate`), so
  those months are read live until rolled up again.

Open states are taken as the old system left them (new, dispatched, handling, returned, replied): the
ticket carries on in Jiesu's workflow; those past `new` need their unit. A number already used by a ticket
made in Jiesu is refused; a number seen earlier in the same file is refused as a duplicate.

Bad rows are rejected one by one, each with its line, number, field and reason; the rest load. The work is
done in batches, each in the caller's transaction (or in that of the second connection, below); `commit` (the
CLI passes session.commit) is called after each, so a crash leaves whole batches of whole tickets, and a
second run loads the rest.

Speed (benchmarks/import.py). Reading and checking the rows is Python; writing them is mostly the database's
work (some 33 index entries and, on PostgreSQL, 13 foreign-key checks a ticket). On PostgreSQL the writing runs
in threads beside the reading, one batch behind it, on the caller's session and, when the caller commits per
batch on a session bound to an engine (the CLI), on a second connection of its own too, so that both CPUs
work. Every reference the importer writes is either a row it writes in the same transaction or a unit,
category or place it has looked up; so, when the role may set `session_replication_role` (a superuser, or on
PostgreSQL 15+ after `GRANT SET ON PARAMETER session_replication_role TO <role>`), each batch locks the
distinct units, categories and places it refers to FOR KEY SHARE and checks they are all there, once, as the
foreign-key triggers would row by row, and writes with the triggers off until the transaction ends
(`SET LOCAL session_replication_role = replica`); otherwise PostgreSQL checks every row itself.
ImportReport.reference_checks says which was done. Each batch commits without waiting for its WAL to reach the
disk (synchronous_commit off, for its own transaction only): a crash may lose the last batches, never part of
one, and running the import again writes them again. On SQLite, whose driver gives the interpreter lock back
and takes it again on every row, the batches are written in the reading thread.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import operator
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jiesu.assessment import service as assessment
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.db import WRITE
from jiesu.errors import DataSourceError, InvalidInput
from jiesu.limits import MAX_ADDRESS, MAX_CODE, MAX_REASON, MAX_TEXT, MAX_TITLE
from jiesu.permissions import Actor, Permission, require
from jiesu.places.models import Area
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, URGENCY_LABELS, Category, RequestType, Urgency
from jiesu.tickets.rules import ACTION_LABELS, STATE_LABELS, TicketState
from jiesu.tickets.rules import Step as TicketAction
from jiesu.units.models import Unit

ACTOR = "import"  # created_by, the event's actor, the callback's agent
EVENT_ACTION = TicketAction.import_.value  # one event per imported ticket, from nothing to its final state
EVENT_REASON = ACTION_LABELS[TicketAction.import_]  # 历史导入
KEY_PREFIX = "import:"  # Request.idempotency_key of an imported ticket: the old number after it
DEFAULT_BATCH = 5000
MAX_NUMBER, MAX_COMMENT = MAX_CODE, MAX_REASON  # a ticket's number; a callback's comment

# Every column (CSV header, JSON key) the importer knows; only the first three are required.
COLUMNS = (
    "number",  # the old system's ticket number (at most 32 characters), unique: Jiesu keeps it
    "created_at",  # 受理时间; naive times are local (settings.timezone); an ISO 8601 offset is honoured
    "text",  # 诉求内容
    "title", "request_type", "urgency", "address",
    "place",  # a place's name or an address, resolved once per distinct value (as `jiesu places resolve`)
    "district_code", "street_code", "community_code",  # 12-digit NBS codes; the deepest given is the area
    "category",  # code (01.02.003), path (城乡建设/安全生产/安全隐患) or a name that is unique in the tree
    "unit",  # the main unit: its code, or its name when no other unit has it
    "state",  # the final state: closed, withdrawn, merged (or an open one); English or 已办结 ...; default closed
    "dispatched_at", "signed_at", "replied_at", "closed_at",
    "reply",  # the unit's answer (答复), kept in the import event's payload
    "callback_at",  # default: closed_at, else replied_at
    "callback_reached",  # true/false (是/否); default true when answers are given
    "callback_contacted",  # 响应: did the unit get in touch (true/false)
    "callback_resolution",  # resolved / partly / unresolved (已解决 / 部分解决 / 未解决)
    "callback_satisfaction",  # satisfied / basically / unsatisfied (满意 / 基本满意 / 不满意)
    "callback_comment",
)
REQUIRED = ("number", "created_at", "text")
KNOWN = frozenset(COLUMNS)
(C_NUMBER, C_CREATED, C_TEXT, C_TITLE, C_TYPE, C_URGENCY, C_ADDRESS, C_PLACE, C_DISTRICT, C_STREET, C_COMMUNITY,
 C_CATEGORY, C_UNIT, C_STATE, C_DISPATCHED, C_SIGNED, C_REPLIED, C_CLOSED, C_REPLY, C_CB_AT, C_CB_REACHED,
 C_CB_CONTACTED, C_CB_RESOLUTION, C_CB_SATISFACTION, C_CB_COMMENT) = range(len(COLUMNS))
FORMATS = ("csv", "jsonl")

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

Progress = Callable[[str, int, int], None]  # (what is happening, done, total): bytes of a file, else rows


@dataclass(frozen=True)
class Rejection:
    line: int  # the row's first line in the file (the header is line 1), or its position among the rows given
    number: str
    field: str
    reason: str


@dataclass
class ImportReport:
    read: int = 0  # rows read
    loaded: int = 0  # tickets written (a dry run: that would be written)
    skipped_existing: int = 0  # imported before (a second run)
    rejected: int = 0
    callbacks: int = 0  # callbacks written with the tickets, each with its assessment fact
    periods: list[str] = field(default_factory=list)  # assessment months with new facts: their rollups dropped
    seconds: float = 0.0
    parse_seconds: float = 0.0  # reading and checking rows (Python; overlaps with the writing)
    write_seconds: float = 0.0  # the database's share: numbers looked up, ids taken, rows written, commits
    reference_checks: str = ""  # "batched" (locked once per batch) or "per row" (the foreign-key triggers)
    connections: int = 0  # writing at once (0: in the caller's thread, between batches)
    dry_run: bool = False
    rejections: list[Rejection] = field(default_factory=list)  # kept when no on_reject was given

    def line(self) -> str:
        return (f"{self.read:,} read, {self.loaded:,} {'to load' if self.dry_run else 'loaded'}, "
                f"{self.skipped_existing:,} imported before, {self.rejected:,} rejected")


class _Bad(Exception):  # noqa: N818 - a rejected row, not an error of the import
    def __init__(self, field: str, reason: str, number: str = "") -> None:
        super().__init__(reason)
        self.field, self.reason, self.number = field, reason, number


# --- reading -------------------------------------------------------------------------------------------

def detect_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".txt")):
        return "csv"
    raise DataSourceError(f"{path.name}: cannot tell the format from its name; say csv or jsonl", field="format")


def _check_utf8(head: bytes, name: str) -> None:
    """Old systems in China export GBK: say so before anything is loaded, not at row 500,000."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{name}: not UTF-8 text (byte {exc.start}); save it as UTF-8 "
                              "(e.g. iconv -f GBK -t UTF-8)", field="encoding") from None


def _cell(v: Any) -> str:
    """A JSON value as the text a CSV cell would hold."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _flatten(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """{"callback": {"at": ..., "resolution": ...}} is the same as callback_at, callback_resolution ..."""
    cb = obj.get("callback")
    if isinstance(cb, Mapping):
        obj = {k: v for k, v in obj.items() if k != "callback"} | {f"callback_{k}": v for k, v in cb.items()}
    return obj


def _values(obj: Mapping[str, Any]) -> tuple[str, ...] | _Bad:
    if not KNOWN.issuperset(obj.keys()):
        unknown = sorted(str(k) for k in obj.keys() - KNOWN)
        return _Bad(unknown[0], f"unknown field(s) {', '.join(unknown)}", _cell(obj.get("number")).strip())
    return tuple([_cell(obj.get(c)) for c in COLUMNS])


def _check_columns(header: list[str], name: str) -> None:
    unknown = [h for h in header if h not in KNOWN]
    if unknown:
        raise DataSourceError(f"{name}: unknown column(s) {', '.join(unknown)}; the columns are "
                              f"{', '.join(COLUMNS)}", field="columns")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataSourceError(f"{name}: missing column(s) {', '.join(missing)}", field="columns")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise DataSourceError(f"{name}: column(s) {', '.join(twice)} given twice", field="columns")


class _Source:
    """Rows of a file or of an iterable as (line, values as text in COLUMNS order | _Bad); bytes read so far."""

    def __init__(self, source: Path | str | Iterable[Mapping[str, Any]], fmt: str | None) -> None:
        self.total = 0
        self.columns: set[str] | None = None  # those the file has (None: rows given, could be any)
        self._raw = None
        if not isinstance(source, str | Path):
            self.name, self.format = "rows", "rows"
            self.total = len(source) if hasattr(source, "__len__") else 0
            self.rows = ((n, _values(_flatten(obj))) for n, obj in enumerate(source, start=1))
            return
        path = Path(source)
        self.name = path.name
        self.format = fmt or detect_format(path)
        if self.format not in FORMATS:
            raise InvalidInput(f"format is one of {', '.join(FORMATS)}", field="format")
        try:
            self._raw = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
            self.total = path.stat().st_size
            stream = gzip.GzipFile(fileobj=self._raw) if path.name.lower().endswith(".gz") else self._raw
            head = stream.peek(1 << 20)[:1 << 20]
        except FileNotFoundError:
            raise DataSourceError(f"no such file: {path}", field="file") from None
        except IsADirectoryError:
            raise DataSourceError(f"{path} is a folder, not a file", field="file") from None
        except (OSError, EOFError) as exc:
            self.close()
            raise DataSourceError(f"cannot read {path}: {exc}", field="file") from None
        try:
            _check_utf8(head, path.name)
        except DataSourceError:
            self.close()
            raise
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        self.rows = self._csv() if self.format == "csv" else self._jsonl()
        if self.format == "csv":
            try:
                next(self.rows)  # the header, now: a bad one fails before anything is written
            except BaseException:
                self.close()
                raise

    @property
    def done(self) -> int:
        try:
            return self._raw.tell() if self._raw is not None else 0
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()

    def _decode_error(self, exc: UnicodeDecodeError) -> DataSourceError:
        return DataSourceError(f"{self.name}: not UTF-8 text near byte {self.done} ({exc.reason}); the rows "
                               "before it were imported: fix the file and run the import again", field="encoding")

    def _csv(self) -> Iterator[tuple[int, tuple | _Bad] | None]:
        """The header checked (yields None once), then the rows."""
        reader = csv.reader(self._text)
        try:
            header = next(reader, None)
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from None
        except csv.Error as exc:
            raise DataSourceError(f"{self.name}: not a CSV file ({exc})", field="file") from None
        if not header:
            raise DataSourceError(f"{self.name}: empty file, no header row", field="file")
        header = [h.strip() for h in header]
        _check_columns(header, self.name)
        self.columns = set(header)
        yield None  # the header is good
        width = len(header)
        where = {h: i for i, h in enumerate(header)}
        # A column the file lacks reads the empty cell appended to each row below.
        pick = operator.itemgetter(*[where.get(c, width) for c in COLUMNS])
        line = reader.line_num + 1
        try:
            for row in reader:
                start, line = line, reader.line_num + 1
                if len(row) != width:
                    if row:
                        number = row[where["number"]].strip() if where["number"] < len(row) else ""
                        yield start, _Bad("row", f"{len(row)} fields where the header has {width}", number)
                    continue
                row.append("")
                yield start, pick(row)
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from None
        except csv.Error as exc:
            raise DataSourceError(f"{self.name} line {reader.line_num}: {exc}", field="file") from None
        except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
            raise DataSourceError(f"{self.name}: cannot read on after line {reader.line_num}: {exc}",
                                  field="file") from None

    def _jsonl(self) -> Iterator[tuple[int, tuple | _Bad]]:
        checked = False
        try:
            for n, text in enumerate(self._text, start=1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except ValueError as exc:
                    yield n, _Bad("row", f"not JSON: {exc}")
                    continue
                if not isinstance(obj, dict):
                    yield n, _Bad("row", "not a JSON object")
                    continue
                obj = _flatten(obj)
                if not checked:  # the first object's keys are the file's header
                    _check_columns(list(obj), self.name)
                    checked = True
                yield n, _values(obj)
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from None
        except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
            raise DataSourceError(f"{self.name}: cannot read on: {exc}", field="file") from None


# --- checking ------------------------------------------------------------------------------------------

AMBIGUOUS = -1


class _Lookups:
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
        self.categories = self._by_key(session.execute(select(Category.id, Category.code, Category.path,
                                                              Category.name)))
        self.places: dict[str, tuple[int, str | None] | _Bad] = {}
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

    def load_resolver(self) -> None:
        from jiesu.places.resolve import resolver_for

        if self._resolver is None:
            self._resolver = resolver_for(self.session)

    def place(self, text: str) -> tuple[int, str | None]:
        found = self.places.get(text)
        if found is None:
            found = self.places[text] = self._resolve(text)
        if isinstance(found, _Bad):
            raise _Bad(found.field, found.reason)  # a fresh one: a raised exception keeps its traceback
        return found

    def _resolve(self, text: str) -> tuple[int, str | None] | _Bad:
        from jiesu.places.resolve import MAX_TEXT_LENGTH

        if text in self.areas:
            return self.areas[text]
        self.load_resolver()
        r = self._resolver.resolve(text[:MAX_TEXT_LENGTH])
        if r.ambiguous and r.alternatives:
            paths = "; ".join(a.path for a in r.alternatives[:4])
            return _Bad("place", f"{text!r} may be any of {paths}: give the street_code or community_code")
        if r.best is None or r.best.code not in self.areas:
            return _Bad("place", f"no known place in {text!r}")
        return self.areas[r.best.code]


@dataclass(slots=True)
class _Good:
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


def _json_text(s: str) -> str:
    """A JSON string: quoted as it is when nothing in it needs escaping (the usual case), else json.dumps."""
    if s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    return json.dumps(s, ensure_ascii=False)


class _Checker:
    def __init__(self, lookups: _Lookups, settings: Settings) -> None:
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
                raise _Bad(name, f"{s!r} is not a time (2023-03-11 08:15:00, or ISO 8601 with an offset)") from None
        if not 1970 <= dt.year < 2100:
            raise _Bad(name, f"{s!r} is not a time of this system's life (1970-2099)")
        if dt.tzinfo is None:
            return dt - self.tz.utcoffset(dt), dt
        return dt.astimezone(UTC).replace(tzinfo=None), dt.astimezone(self.tz).replace(tzinfo=None)

    def period(self, local: datetime) -> str:
        """assessment.rules.period_of, from the local time at hand."""
        y, m = local.year, local.month
        if self.start_day > 1 and local.day >= self.start_day:
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return f"{y:04d}-{m:02d}"

    def check(self, line: int, v: tuple[str, ...]) -> _Good:  # noqa: C901 - one field after the other
        number = v[C_NUMBER].strip()
        if not number:
            raise _Bad("number", "the old system's number is missing")
        if len(number) > MAX_NUMBER:
            raise _Bad("number", f"longer than {MAX_NUMBER} characters")
        if number in self.seen:
            raise _Bad("number", f"{number} appears earlier in the file: a duplicate")
        text = v[C_TEXT].strip()
        if not text:
            raise _Bad("text", "the request's text is empty")
        if len(text) > MAX_TEXT:
            raise _Bad("text", f"longer than {MAX_TEXT} characters")
        title, address = v[C_TITLE].strip(), v[C_ADDRESS].strip()
        if len(title) > MAX_TITLE:
            raise _Bad("title", f"longer than {MAX_TITLE} characters")
        if len(address) > MAX_ADDRESS:
            raise _Bad("address", f"longer than {MAX_ADDRESS} characters")

        raw = v[C_CREATED].strip()
        if not raw:
            raise _Bad("created_at", "the time the request came in is missing")
        created = self.time(raw, "created_at")[0]
        dispatched = signed = replied = closed = None
        stamps = [f'"created_at": "{created.isoformat()}Z"']
        for col, name in ((C_DISPATCHED, "dispatched_at"), (C_SIGNED, "signed_at"), (C_REPLIED, "replied_at"),
                          (C_CLOSED, "closed_at")):
            raw = v[col].strip()
            if raw:
                t = self.time(raw, name)[0]
                if t < created:
                    raise _Bad(name, f"{name} is before created_at")
                stamps.append(f'"{name}": "{t.isoformat()}Z"')
                if col == C_DISPATCHED:
                    dispatched = t
                elif col == C_SIGNED:
                    signed = t
                elif col == C_REPLIED:
                    replied = t
                else:
                    closed = t

        raw = v[C_STATE].strip()
        state = (STATES.get(raw) or STATES.get(raw.lower())) if raw else "closed"
        if state is None:
            raise _Bad("state", f"unknown state {raw!r} (closed, withdrawn, merged ... or 已办结 ...)")
        raw = v[C_TYPE].strip()
        request_type = (REQUEST_TYPES.get(raw) or REQUEST_TYPES.get(raw.lower())) if raw else "complaint"
        if request_type is None:
            raise _Bad("request_type", f"unknown request type {raw!r} (inquiry, help, complaint ... or 投诉 ...)")
        raw = v[C_URGENCY].strip()
        urgency = (URGENCIES.get(raw) or URGENCIES.get(raw.lower())) if raw else "normal"
        if urgency is None:
            raise _Bad("urgency", f"unknown urgency {raw!r} (emergency, normal, complex or 紧急/一般/疑难)")

        lk = self.lk
        area_id = district = None
        community, street, district_code = v[C_COMMUNITY].strip(), v[C_STREET].strip(), v[C_DISTRICT].strip()
        if community or street or district_code:
            given = [(n, c) for n, c in (("community_code", community), ("street_code", street),
                                         ("district_code", district_code)) if c]
            name, code = given[0]  # the deepest
            found = lk.areas.get(code)
            if found is None:
                raise _Bad(name, f"no place with code {code}")
            area_id, district = found
            above = lk.parents[code]
            for name, up in given[1:]:
                if up not in above:
                    raise _Bad(name, f"{code} is not in {up}" if up in lk.areas else f"no place with code {up}")
        else:
            raw = v[C_PLACE].strip()
            if raw:
                area_id, district = lk.place(raw)

        category_id = None
        raw = v[C_CATEGORY].strip()
        if raw:
            category_id = lk.categories.get(raw)
            if category_id is None:
                raise _Bad("category", f"unknown category {raw!r} (a code, a path or a name)")
            if category_id == AMBIGUOUS:
                raise _Bad("category", f"several categories are called {raw!r}: give its code or path")
        unit_id = None
        raw = v[C_UNIT].strip()
        if raw:
            unit_id = lk.units.get(raw)
            if unit_id is None:
                raise _Bad("unit", f"unknown unit {raw!r} (its code or exact name)")
            if unit_id == AMBIGUOUS:
                raise _Bad("unit", f"several units are called {raw!r}: give its code")
        elif state in NEEDS_UNIT:
            raise _Bad("unit", f"a {state} ticket needs its unit")

        callback = None
        if v[C_CB_AT] or v[C_CB_REACHED] or v[C_CB_CONTACTED] or v[C_CB_RESOLUTION] or v[C_CB_SATISFACTION]:
            callback = self._callback(v, created, unit_id)

        reply = v[C_REPLY].strip()
        if reply:
            stamps.append(f'"reply": {_json_text(reply)}')
        payload = (f'{{"number": {_json_text(number)}, "state": "{STATE_VALUES[state]}", ' + ", ".join(stamps)
                   + "}")
        self.seen.add(number)
        return _Good(line, number, text, title, request_type, urgency, address, area_id, district, category_id,
                     unit_id, state, created, dispatched, signed, replied, closed, payload, callback)

    def _callback(self, v: tuple[str, ...], created: datetime, unit_id: int | None) -> tuple:
        if unit_id is None:
            raise _Bad("unit", "a callback judges the ticket's unit: give the unit")
        raw = v[C_CB_AT].strip() or v[C_CLOSED].strip() or v[C_REPLIED].strip()
        if not raw:
            raise _Bad("callback_at", "the callback's time is missing (nor closed_at or replied_at to take)")
        at, local = self.time(raw, "callback_at")
        if at < created:
            raise _Bad("callback_at", "callback_at is before created_at")
        res_raw, sat_raw = v[C_CB_RESOLUTION].strip(), v[C_CB_SATISFACTION].strip()
        reached = self._bool(v[C_CB_REACHED], "callback_reached")
        contacted = self._bool(v[C_CB_CONTACTED], "callback_contacted")
        comment = v[C_CB_COMMENT].strip()
        if len(comment) > MAX_COMMENT:
            raise _Bad("callback_comment", f"longer than {MAX_COMMENT} characters")
        if reached is None:
            if not (res_raw or sat_raw):
                raise _Bad("callback_reached", "say whether the citizen was reached (true/false)")
            reached = True
        if not reached:
            if res_raw or sat_raw or contacted is not None:
                raise _Bad("callback_reached", "a citizen who was not reached gave no answers")
            return (at, False, None, None, None, comment, self.period(local), "unreachable", 0, 0, self.attempts)
        if contacted is None:
            raise _Bad("callback_contacted", "a reached citizen's callback needs contacted (true/false)")
        res = RESOLUTIONS.get(res_raw) or RESOLUTIONS.get(res_raw.lower())
        if res is None:
            raise _Bad("callback_resolution", f"{res_raw!r} is not resolved, partly or unresolved (已解决/部分解决/"
                       "未解决)" if res_raw else "a reached citizen's callback needs the resolution")
        sat = SATISFACTIONS.get(sat_raw) or SATISFACTIONS.get(sat_raw.lower())
        if sat is None:
            raise _Bad("callback_satisfaction", f"{sat_raw!r} is not satisfied, basically or unsatisfied (满意/"
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
        raise _Bad(name, f"{raw!r} is not true or false (是/否)")


# --- writing -------------------------------------------------------------------------------------------

# Columns and their PostgreSQL types, as COPY BINARY sends them. Times go as `timestamp` holding UTC: the
# binary form of timestamp and timestamptz is the same (microseconds since 2000-01-01 UTC), and the server
# reads it with the column's own type.
TABLES = (
    ("requests", (("id", "int4"), ("text", "text"), ("title", "varchar"), ("request_type", "varchar"),
                  ("channel", "varchar"), ("address", "varchar"), ("area_id", "int4"), ("anonymous", "bool"),
                  ("no_callback", "bool"), ("urgency", "varchar"), ("category_id", "int4"), ("outcome", "varchar"),
                  ("idempotency_key", "varchar"), ("created_at", "timestamp"), ("created_by", "varchar"))),
    ("tickets", (("id", "int4"), ("number", "varchar"), ("request_id", "int4"), ("state", "varchar"),
                 ("main_unit_id", "int4"), ("category_id", "int4"), ("urgency", "varchar"), ("area_id", "int4"),
                 ("district_code", "varchar"), ("created_at", "timestamp"), ("dispatched_at", "timestamp"),
                 ("signed_at", "timestamp"), ("replied_at", "timestamp"), ("closed_at", "timestamp"),
                 ("dispatch_by", "timestamp"), ("sign_overdue", "bool"), ("reply_overdue", "bool"),
                 ("escalated", "bool"), ("extensions", "int4"), ("reopened", "int4"), ("callback_due", "bool"),
                 ("manual_review", "bool"), ("version", "int4"))),
    ("ticket_events", (("id", "int4"), ("ticket_id", "int4"), ("seq", "int4"), ("at", "timestamp"),
                       ("actor", "varchar"), ("role", "varchar"), ("action", "varchar"), ("from_state", "varchar"),
                       ("to_state", "varchar"), ("reason", "text"), ("payload", "text"))),
    ("callbacks", (("id", "int4"), ("ticket_id", "int4"), ("round", "int4"), ("attempt", "int4"),
                   ("at", "timestamp"), ("agent", "varchar"), ("channel", "varchar"), ("unit_id", "int4"),
                   ("reached", "bool"), ("contacted", "bool"), ("resolution", "varchar"),
                   ("satisfaction", "varchar"), ("comment", "text"))),
    ("rate_facts", (("id", "int4"), ("period", "varchar"), ("ticket_id", "int4"), ("unit_id", "int4"),
                    ("callback_id", "int4"), ("at", "timestamp"), ("kind", "varchar"), ("district_code", "varchar"),
                    ("category_id", "int4"), ("contacted", "bool"), ("resolution", "int4"),
                    ("satisfaction", "int4"))),
)
REFERENCED = (("units", "unit_id"), ("categories", "category_id"), ("areas", "area_id"))
SQLITE_CACHE_KIB = 256 * 1024


@dataclass
class _Done:
    """What the writer did with one batch."""

    skipped: int
    refused: list[Rejection]
    loaded: int
    callbacks: int
    periods: set[str]
    seconds: float


class _Writer:
    """The bulk path of one database: which numbers are there already, ids, rows; one batch at a time."""

    def __init__(self, session: Session, now: datetime, batched_references: bool | None) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.now = now.astimezone(UTC).replace(tzinfo=None)
        self.batched = False
        if self.sqlite:
            return
        conn = session.connection()
        self.sequences = {t: conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{t}', 'id')").scalar_one()
                          for t, _ in TABLES}
        may = conn.exec_driver_sql("SELECT current_setting('is_superuser') = 'on'").scalar_one()
        if not may and conn.connection.driver_connection.info.server_version >= 150000:
            may = conn.exec_driver_sql("SELECT has_parameter_privilege('session_replication_role', 'SET')"
                                       ).scalar_one()
        if batched_references and not may:
            raise InvalidInput("batched reference checks need a role that may set session_replication_role "
                               "(GRANT SET ON PARAMETER session_replication_role TO ...)", field="references")
        self.batched = may if batched_references is None else batched_references

    def _driver(self):
        if self.sqlite and not self.session.in_transaction():
            # Take SQLite's write lock as the transaction begins (db._sqlite_on_begin): a deferred one that
            # reads first is refused outright when another writer got in between.
            self.session.connection(execution_options={WRITE: True})
        conn = self.session.connection().connection.driver_connection
        if self.sqlite:
            # Up to 256 MiB of page cache (SQLite's default is 2 MiB, allocated as pages are read): the indexes
            # of a million tickets no longer fit in 2 MiB, and every insert would read its pages again.
            conn.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        return conn

    def existing(self, numbers: list[str]) -> tuple[set[str], dict[str, str]]:
        """Numbers imported before; numbers refused, with why."""
        conn = self._driver()
        keys = [KEY_PREFIX + n for n in numbers]
        by_number: dict[str, str | None] = {}
        used_keys: set[str] = set()
        if self.sqlite:
            cur = conn.cursor()
            step = 5000
            for i in range(0, len(numbers), step):
                part, marks = numbers[i:i + step], ",".join("?" * len(numbers[i:i + step]))
                cur.execute(f"SELECT t.number, r.idempotency_key FROM tickets t JOIN requests r ON r.id = "  # noqa: S608
                            f"t.request_id WHERE t.number IN ({marks})", part)
                by_number.update(cur.fetchall())
                cur.execute(f"SELECT idempotency_key FROM requests WHERE idempotency_key IN ({marks})",  # noqa: S608
                            keys[i:i + step])
                used_keys.update(k for (k,) in cur.fetchall())
            cur.close()
        else:
            with conn.cursor() as cur:  # one round trip
                cur.execute("SELECT t.number, r.idempotency_key FROM tickets t JOIN requests r ON r.id = "
                            "t.request_id WHERE t.number = ANY(%s) UNION ALL SELECT NULL, idempotency_key "
                            "FROM requests WHERE idempotency_key = ANY(%s)", (numbers, keys),
                            binary=True)  # arrays of 5,000 strings: the binary form costs a third of the text
                for number, key in cur.fetchall():
                    if number is None:
                        used_keys.add(key)
                    else:
                        by_number[number] = key
        done, refused = set(), {}
        for n in numbers:
            key = KEY_PREFIX + n
            if n in by_number:
                if by_number[n] == key:
                    done.add(n)
                else:
                    refused[n] = f"{n} is already the number of a ticket made in Jiesu, not imported"
            elif key in used_keys:
                refused[n] = f"another request already holds the idempotency key {key}"
        return done, refused

    def write(self, goods: list[_Good]) -> None:
        with_cb = [g for g in goods if g.callback is not None]
        n, m = len(goods), len(with_cb)
        counts = {"requests": n, "tickets": n, "ticket_events": n, "callbacks": m, "rate_facts": m}
        if self.sqlite:
            self._write_sqlite(goods, with_cb, self._sqlite_ids(counts))
        else:
            self._write_pg(goods, with_cb, counts)

    def _sqlite_ids(self, counts: dict[str, int]) -> dict[str, range]:
        """Ids above the highest: this transaction holds SQLite's write lock, nobody else inserts."""
        cur = self._driver().cursor()
        out = {}
        for table, n in counts.items():
            cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 - our own table names
            first = cur.fetchone()[0] + 1
            out[table] = range(first, first + n)
        cur.close()
        return out

    def _prepare_pg(self, cur, goods: list[_Good], counts: dict[str, int]) -> dict[str, list[int]]:
        """In one round trip: an asynchronous commit for this transaction; ids from each table's sequence; and,
        with batched reference checks, what the foreign-key triggers would do row by row, once: the units,
        categories and places the batch refers to locked FOR KEY SHARE (none can be deleted before this
        transaction ends) and all there; then the triggers off until the transaction ends (SET LOCAL)."""
        # The commit need not wait for the WAL on disk: a crash may lose the last batches acknowledged, never
        # part of one, and the import is idempotent: running it again writes them again.
        columns, params = ["set_config('synchronous_commit', 'off', true)"], []
        for table, n in counts.items():
            columns.append("(SELECT array_agg(nextval(%s)) FROM generate_series(1, %s))")
            params += [self.sequences[table], n]
        wanted = {}
        if self.batched:
            for table, attr in REFERENCED:
                wanted[table] = sorted({getattr(g, attr) for g in goods} - {None})
                columns.append(f"(SELECT count(*) FROM (SELECT 1 FROM {table} WHERE id = ANY(%s) FOR KEY SHARE) x)")
                params.append(wanted[table])
            columns.append("set_config('session_replication_role', 'replica', true)")
        cur.execute(f"SELECT {', '.join(columns)}", params, binary=True)  # noqa: S608 - our own table names
        row = cur.fetchone()[1:]
        for (table, attr), found in zip(REFERENCED, row[len(counts):], strict=False):
            if found != len(wanted[table]):
                raise DataSourceError(f"{table} this batch refers to were deleted during the import: run it "
                                      "again", field=attr)
        return {table: ids or [] for table, ids in zip(counts, row, strict=False)}

    def _rows(self, goods: list[_Good], with_cb: list[_Good], ids: dict, stamp: Callable) -> Iterator[list]:
        """The five tables' rows, in TABLES' column orders; times through `stamp` (the driver's form)."""
        now = stamp(self.now)
        rids, tids, eids = ids["requests"], ids["tickets"], ids["ticket_events"]
        requests, tickets, events, ticket_of = [], [], [], {}
        for i, g in enumerate(goods):
            rid, tid = rids[i], tids[i]
            created = stamp(g.created_at)
            ticket_of[g.number] = tid
            requests.append((rid, g.text, g.title, g.request_type, "import_", g.address, g.area_id, False, False,
                             g.urgency, g.category_id, "ticket", KEY_PREFIX + g.number, created, ACTOR))
            tickets.append((tid, g.number, rid, g.state, g.unit_id, g.category_id, g.urgency, g.area_id,
                            g.district_code, created,
                            None if g.dispatched_at is None else stamp(g.dispatched_at),
                            None if g.signed_at is None else stamp(g.signed_at),
                            None if g.replied_at is None else stamp(g.replied_at),
                            None if g.closed_at is None else stamp(g.closed_at),
                            created, False, False, False, 0, 0, False, False, 1))
            events.append((eids[i], tid, 1, now, ACTOR, "admin", EVENT_ACTION, None, g.state, EVENT_REASON,
                           g.payload))
        yield requests
        yield tickets
        yield events
        callbacks, facts = [], []
        cids, fids = ids["callbacks"], ids["rate_facts"]
        for i, g in enumerate(with_cb):
            at, reached, contacted, res, sat, comment, period, kind, res_score, sat_score, attempt = g.callback
            tid, cid, at = ticket_of[g.number], cids[i], stamp(at)
            callbacks.append((cid, tid, 0, attempt, at, ACTOR, "import_", g.unit_id, reached, contacted, res, sat,
                              comment))
            facts.append((fids[i], period, tid, g.unit_id, cid if reached else None, at, kind, g.district_code,
                          g.category_id, bool(contacted), res_score, sat_score))
        yield callbacks
        yield facts

    def _write_pg(self, goods: list[_Good], with_cb: list[_Good], counts: dict[str, int]) -> None:
        with self._driver().cursor() as cur:
            ids = self._prepare_pg(cur, goods, counts)
            for (table, cols), rows in zip(TABLES, self._rows(goods, with_cb, ids, lambda t: t), strict=True):
                if not rows:
                    continue
                names = ", ".join(c for c, _ in cols)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types([t for _, t in cols])
                    write = copy.write_row
                    for row in rows:
                        write(row)

    def after(self) -> None:
        """The settings of _prepare_pg back, for whatever the caller's transaction does next."""
        conn = self.session.connection()
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO DEFAULT")
        if self.batched:
            conn.exec_driver_sql("SET LOCAL session_replication_role TO DEFAULT")

    def _write_sqlite(self, goods: list[_Good], with_cb: list[_Good], ids: dict) -> None:
        cur = self._driver().cursor()

        def stamp(t: datetime) -> str:  # what SQLAlchemy's DateTime stores on SQLite: naive UTC, microseconds
            return t.isoformat(" ", "microseconds")

        for (table, cols), rows in zip(TABLES, self._rows(goods, with_cb, ids, stamp), strict=True):
            if rows:
                cur.executemany(f"INSERT INTO {table} ({', '.join(c for c, _ in cols)}) "
                                f"VALUES ({', '.join('?' * len(cols))})", rows)
        cur.close()

    def batch(self, goods: list[_Good], commit: Callable[[], None] | None, dry_run: bool) -> _Done:
        """One batch, in the session's transaction: look the numbers up, write the new ones, drop the touched
        months' rollups, commit."""
        t0 = time.perf_counter()
        if not goods:
            return _Done(0, [], 0, 0, set(), 0.0)
        done, refused = self.existing([g.number for g in goods])
        rejections = [Rejection(g.line, g.number, "number", refused[g.number]) for g in goods if g.number in refused]
        if done or refused:
            goods = [g for g in goods if g.number not in done and g.number not in refused]
        periods = {g.callback[6] for g in goods if g.callback is not None}
        if goods and not dry_run:
            self.write(goods)
            assessment.invalidate(self.session, sorted(periods))
            if commit is not None:
                commit()  # which also ends SET LOCAL
            elif not self.sqlite:
                self.after()
        callbacks = sum(g.callback is not None for g in goods)
        return _Done(len(done), rejections, len(goods), callbacks, periods, time.perf_counter() - t0)


class _Pipeline:
    """Writers in threads of their own, behind the reader: while the database writes batch k (and k+1 on a
    second connection), Python reads and checks the next one. Results come back in batch order. Only the
    writers' threads use their sessions until close() returns. With no threads, the caller's thread writes."""

    def __init__(self, works: list[Callable[[list[_Good]], _Done]], threaded: bool) -> None:
        self.works, self.threaded = works, threaded
        self.error: BaseException | None = None
        self.sent = 0
        self.ready: dict[int, _Done] = {}
        self.next = 0
        if threaded:
            self.inbox: queue.Queue = queue.Queue(maxsize=len(works))
            self.outbox: queue.Queue = queue.Queue()
            self.threads = [threading.Thread(target=self._run, args=(w,), name=f"jiesu-import-writer-{i}",
                                             daemon=True) for i, w in enumerate(works)]
            for t in self.threads:
                t.start()

    def _run(self, work: Callable[[list[_Good]], _Done]) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                return
            if self.error is not None:
                continue  # after an error nothing more is written; drain
            index, goods = item
            try:
                self.outbox.put((index, work(goods)))
            except BaseException as exc:  # handed to the reader's thread, raised there
                self.error = exc

    def submit(self, goods: list[_Good]) -> list[_Done]:
        """Queue a batch; the batches finished meanwhile, in order."""
        if not self.threaded:
            return [self.works[0](goods)]
        self._raise()
        self.inbox.put((self.sent, goods))
        self.sent += 1
        return self._finished()

    def _finished(self) -> list[_Done]:
        while True:
            try:
                index, done = self.outbox.get_nowait()
            except queue.Empty:
                break
            self.ready[index] = done
        out = []
        while self.next in self.ready:
            out.append(self.ready.pop(self.next))
            self.next += 1
        return out

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> list[_Done]:
        """Wait for the batches under way (also when the reader failed: the sessions are the caller's after)."""
        if not self.threaded:
            return []
        for _ in self.threads:
            self.inbox.put(None)
        for t in self.threads:
            t.join()
        out = self._finished()
        self._raise()
        return out


# --- the use case --------------------------------------------------------------------------------------

def import_tickets(session: Session, actor: Actor, clock: Clock, settings: Settings,
                   source: Path | str | Iterable[Mapping[str, Any]], *, fmt: str | None = None,
                   batch: int = DEFAULT_BATCH, progress: Progress | None = None,
                   on_reject: Callable[[Rejection], None] | None = None, commit: Callable[[], None] | None = None,
                   dry_run: bool = False, batched_references: bool | None = None,
                   connections: int | None = None) -> ImportReport:
    """Load historical tickets from a file (CSV or JSON Lines, .gz too) or from rows (mappings keyed by
    COLUMNS). Rejected rows go to `on_reject` (else into report.rejections), in file order; `commit` is
    called after each batch. `dry_run` reads and checks everything and looks the numbers up, writing
    nothing. `batched_references`: None decides by the role's rights (see the module's docstring), False
    leaves every check to PostgreSQL's foreign keys.

    `connections`: how many write at once. 0 writes in the caller's thread, between reading batches (the
    default on SQLite, whose driver hands the interpreter's lock back and forth on every row); 1 writes in
    a thread of its own on the caller's session while the next batch is read; 2 or more (PostgreSQL, with
    `commit` given and the session bound to an engine) add sessions of their own on the same engine, each
    batch committed in its own transaction. Default: 2 where allowed, else 1 (PostgreSQL) or 0 (SQLite)."""
    require(actor, Permission.tickets_import)
    if not 1 <= batch <= 100_000:
        raise InvalidInput("batch is 1 to 100,000 tickets", field="batch")
    t0 = time.perf_counter()
    report = ImportReport(dry_run=dry_run)
    reject = on_reject or report.rejections.append
    src = _Source(source, fmt)
    extra: list[Session] = []
    try:
        if session.get_bind().dialect.name == "sqlite" and not session.in_transaction() and not dry_run:
            session.connection(execution_options={WRITE: True})  # the import writes: SQLite's lock up front
        now = clock.now()
        writer = _Writer(session, now, batched_references)
        report.reference_checks = "batched" if writer.batched else "per row"
        bind = session.get_bind()
        alone = isinstance(bind, Engine) and not writer.sqlite and commit is not None and not dry_run
        if connections is None:
            connections = 0 if writer.sqlite else 2 if alone else 1
        if connections < 0 or (connections > 1 and not alone):
            raise InvalidInput("more than one connection needs PostgreSQL, a commit per batch and a session "
                               "bound to an engine", field="connections")
        report.connections = connections
        lookups = _Lookups(session)
        if src.columns is None or "place" in src.columns:
            lookups.load_resolver()  # now: the writers' threads will hold the session
        checker = _Checker(lookups, settings)
        works = [lambda goods: writer.batch(goods, commit, dry_run)]
        for _ in range(connections - 1):
            own = Session(bind=bind)
            extra.append(own)
            works.append(_own_batch(_Writer(own, now, batched_references), own))
        pending: list[list[Rejection]] = []  # each batch's own rejections, reported when it is written
        periods: set[str] = set()

        def finished(results: list[_Done]) -> None:
            for r in results:
                own = pending.pop(0)
                for rejection in sorted(own + r.refused, key=lambda x: x.line) if r.refused else own:
                    reject(rejection)
                report.rejected += len(own) + len(r.refused)
                report.skipped_existing += r.skipped
                report.loaded += r.loaded
                report.callbacks += r.callbacks
                report.write_seconds += r.seconds
                periods.update(r.periods)
                if progress is not None:
                    progress(report.line(), src.done if src.format != "rows" else report.read, src.total)

        pipe = _Pipeline(works, threaded=connections > 0)
        try:
            rows, check = src.rows, checker.check
            while True:
                p0 = time.perf_counter()
                goods: list[_Good] = []
                bad: list[Rejection] = []
                for line, values in rows:
                    report.read += 1
                    try:
                        if isinstance(values, _Bad):
                            raise values
                        goods.append(check(line, values))
                    except _Bad as exc:
                        number = values[C_NUMBER].strip() if isinstance(values, tuple) else values.number
                        bad.append(Rejection(line, number, exc.field, exc.reason))
                    if len(goods) >= batch:
                        break
                report.parse_seconds += time.perf_counter() - p0
                if not goods and not bad:
                    break
                pending.append(bad)
                finished(pipe.submit(goods))
        finally:
            finished(pipe.close())
        report.periods = sorted(periods)
    finally:
        src.close()
        for own in extra:
            own.close()  # rolls back what a failed batch left
    report.seconds = time.perf_counter() - t0
    return report


def _own_batch(writer: _Writer, session: Session) -> Callable[[list[_Good]], _Done]:
    """A batch on a writer's own session: committed when written, rolled back when not."""
    def work(goods: list[_Good]) -> _Done:
        try:
            return writer.batch(goods, session.commit, False)
        except BaseException:
            session.rollback()
            raise
    return work

