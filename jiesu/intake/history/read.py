"""Reading a history file: CSV (UTF-8, with a header) or JSON Lines, .gz too, or rows given as mappings;
each row as (line, its values as text in COLUMNS order) or a Bad row, one at a time.

A file is refused as a whole (DataSourceError) before anything is written when it cannot be read: not UTF-8
(old systems in China export GBK), unknown or missing columns, not a CSV.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jiesu.errors import DataSourceError, InvalidInput

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
    "sign_by",  # the sign deadline (签收时限) the old system set; default: the deadline policy's, from dispatched_at
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
FORMATS = ("csv", "jsonl")


@dataclass(frozen=True)
class Rejection:
    """A row left out, as the report lists it."""

    line: int  # the row's first line in the file (the header is line 1), or its position among the rows given
    number: str
    field: str
    reason: str


class Bad(Exception):  # noqa: N818 - a rejected row, not an error of the import
    def __init__(self, field: str, reason: str, number: str = "") -> None:
        super().__init__(reason)
        self.field, self.reason, self.number = field, reason, number


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


def _values(obj: Mapping[str, Any]) -> tuple[str, ...] | Bad:
    if not KNOWN.issuperset(obj.keys()):
        unknown = sorted(str(k) for k in obj.keys() - KNOWN)
        return Bad(unknown[0], f"unknown field(s) {', '.join(unknown)}", _cell(obj.get("number")).strip())
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


class Source:
    """Rows of a file or of an iterable as (line, values as text in COLUMNS order | Bad); bytes read so far."""

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

    def _csv(self) -> Iterator[tuple[int, tuple | Bad] | None]:
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
                        yield start, Bad("row", f"{len(row)} fields where the header has {width}", number)
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

    def _jsonl(self) -> Iterator[tuple[int, tuple | Bad]]:
        checked = False
        try:
            for n, text in enumerate(self._text, start=1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except ValueError as exc:
                    yield n, Bad("row", f"not JSON: {exc}")
                    continue
                if not isinstance(obj, dict):
                    yield n, Bad("row", "not a JSON object")
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
