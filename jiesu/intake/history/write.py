"""Writing checked rows with the database's bulk path, one batch a transaction: COPY (binary) on PostgreSQL,
batched `executemany` on SQLite; ids taken up front (from the tables' sequences on PostgreSQL, above max(id)
under the write lock on SQLite). Which numbers are there already is looked up per batch.

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

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from jiesu.assessment import service as assessment
from jiesu.db import WRITE
from jiesu.errors import DataSourceError, InvalidInput
from jiesu.intake.history.check import Good
from jiesu.intake.history.read import Rejection
from jiesu.tickets.rules import ACTION_LABELS
from jiesu.tickets.rules import Step as TicketAction

ACTOR = "import"  # created_by, the event's actor, the callback's agent
EVENT_ACTION = TicketAction.import_.value  # one event per imported ticket, from nothing to its final state
EVENT_REASON = ACTION_LABELS[TicketAction.import_]  # 历史导入
KEY_PREFIX = "import:"  # Request.idempotency_key of an imported ticket: the old number after it

# Columns and their PostgreSQL types, as COPY BINARY sends them. Times go as `timestamp` holding UTC: the
# binary form of timestamp and timestamptz is the same (microseconds since 2000-01-01 UTC), and the server
# reads it with the column's own type.
TABLES = (
    ("requests", (("id", "int4"), ("text", "text"), ("title", "varchar"), ("request_type", "varchar"),
                  ("channel", "varchar"), ("address", "varchar"), ("area_id", "int4"), ("anonymous", "bool"),
                  ("no_callback", "bool"), ("urgency", "varchar"), ("category_id", "int4"), ("outcome", "varchar"),
                  ("idempotency_key", "varchar"), ("idempotency_scope", "varchar"), ("created_at", "timestamp"),
                  ("created_by", "varchar"))),
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
    ("sign_facts", (("id", "int4"), ("period", "varchar"), ("ticket_id", "int4"), ("unit_id", "int4"),
                    ("district_code", "varchar"), ("category_id", "int4"), ("dispatched_at", "timestamp"),
                    ("sign_by", "timestamp"), ("signed_at", "timestamp"), ("status", "varchar"))),
)
REFERENCED = (("units", "unit_id"), ("categories", "category_id"), ("areas", "area_id"))
SQLITE_CACHE_KIB = 256 * 1024


@dataclass
class Done:
    """What the writer did with one batch."""

    skipped: int
    refused: list[Rejection]
    loaded: int
    callbacks: int
    periods: set[str]
    seconds: float
    signs: int = 0  # tickets written with a sign fact
    signs_by_policy: int = 0  # ... whose sign deadline came from the deadline policy


class Writer:
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

    def write(self, goods: list[Good]) -> None:
        with_cb = [g for g in goods if g.callback is not None]
        signs = sum(g.sign is not None for g in goods)
        n, m = len(goods), len(with_cb)
        counts = {"requests": n, "tickets": n, "ticket_events": n, "callbacks": m, "rate_facts": m,
                  "sign_facts": signs}
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

    def _prepare_pg(self, cur, goods: list[Good], counts: dict[str, int]) -> dict[str, list[int]]:
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

    def _rows(self, goods: list[Good], with_cb: list[Good], ids: dict, stamp: Callable) -> Iterator[list]:
        """The six tables' rows, in TABLES' column orders; times through `stamp` (the driver's form)."""
        now = stamp(self.now)
        rids, tids, eids = ids["requests"], ids["tickets"], ids["ticket_events"]
        requests, tickets, events, signs, ticket_of = [], [], [], [], {}
        sids = iter(ids["sign_facts"])
        for i, g in enumerate(goods):
            rid, tid = rids[i], tids[i]
            created = stamp(g.created_at)
            ticket_of[g.number] = tid
            requests.append((rid, g.text, g.title, g.request_type, "import_", g.address, g.area_id, False, False,
                             g.urgency, g.category_id, "ticket", KEY_PREFIX + g.number, ACTOR, created, ACTOR))
            tickets.append((tid, g.number, rid, g.state, g.unit_id, g.category_id, g.urgency, g.area_id,
                            g.district_code, created,
                            None if g.dispatched_at is None else stamp(g.dispatched_at),
                            None if g.signed_at is None else stamp(g.signed_at),
                            None if g.replied_at is None else stamp(g.replied_at),
                            None if g.closed_at is None else stamp(g.closed_at),
                            created, False, False, False, 0, 0, False, False, 1))
            events.append((eids[i], tid, 1, now, ACTOR, "admin", EVENT_ACTION, None, g.state, EVENT_REASON,
                           g.payload))
            if g.sign is not None:  # what assessment.rules.replay makes of the event's payload
                period, sent, due, signed, status = g.sign
                signs.append((next(sids), period, tid, g.unit_id, g.district_code, g.category_id, stamp(sent),
                              stamp(due), None if signed is None else stamp(signed), status))
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
        yield signs

    def _write_pg(self, goods: list[Good], with_cb: list[Good], counts: dict[str, int]) -> None:
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

    def _write_sqlite(self, goods: list[Good], with_cb: list[Good], ids: dict) -> None:
        cur = self._driver().cursor()

        def stamp(t: datetime) -> str:  # what SQLAlchemy's DateTime stores on SQLite: naive UTC, microseconds
            return t.isoformat(" ", "microseconds")

        for (table, cols), rows in zip(TABLES, self._rows(goods, with_cb, ids, stamp), strict=True):
            if rows:
                cur.executemany(f"INSERT INTO {table} ({', '.join(c for c, _ in cols)}) "
                                f"VALUES ({', '.join('?' * len(cols))})", rows)
        cur.close()

    def batch(self, goods: list[Good], commit: Callable[[], None] | None, dry_run: bool) -> Done:
        """One batch, in the session's transaction: look the numbers up, write the new ones, drop the touched
        months' rollups, commit."""
        t0 = time.perf_counter()
        if not goods:
            return Done(0, [], 0, 0, set(), 0.0)
        done, refused = self.existing([g.number for g in goods])
        rejections = [Rejection(g.line, g.number, "number", refused[g.number]) for g in goods if g.number in refused]
        if done or refused:
            goods = [g for g in goods if g.number not in done and g.number not in refused]
        periods = {g.callback[6] for g in goods if g.callback is not None}
        periods |= {g.sign[0] for g in goods if g.sign is not None}
        if goods and not dry_run:
            self.write(goods)
            assessment.invalidate(self.session, sorted(periods))
            if commit is not None:
                commit()  # which also ends SET LOCAL
            elif not self.sqlite:
                self.after()
        callbacks = sum(g.callback is not None for g in goods)
        signs = sum(g.sign is not None for g in goods)
        by_policy = sum(g.sign is not None and g.sign_by_policy for g in goods)
        return Done(len(done), rejections, len(goods), callbacks, periods, time.perf_counter() - t0, signs, by_policy)


class Pipeline:
    """Writers in threads of their own, behind the reader: while the database writes batch k (and k+1 on a
    second connection), Python reads and checks the next one. Results come back in batch order. Only the
    writers' threads use their sessions until close() returns. With no threads, the caller's thread writes."""

    def __init__(self, works: list[Callable[[list[Good]], Done]], threaded: bool) -> None:
        self.works, self.threaded = works, threaded
        self.error: BaseException | None = None
        self.sent = 0
        self.ready: dict[int, Done] = {}
        self.next = 0
        if threaded:
            self.inbox: queue.Queue = queue.Queue(maxsize=len(works))
            self.outbox: queue.Queue = queue.Queue()
            self.threads = [threading.Thread(target=self._run, args=(w,), name=f"jiesu-import-writer-{i}",
                                             daemon=True) for i, w in enumerate(works)]
            for t in self.threads:
                t.start()

    def _run(self, work: Callable[[list[Good]], Done]) -> None:
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

    def submit(self, goods: list[Good]) -> list[Done]:
        """Queue a batch; the batches finished meanwhile, in order."""
        if not self.threaded:
            return [self.works[0](goods)]
        self._raise()
        self.inbox.put((self.sent, goods))
        self.sent += 1
        return self._finished()

    def _finished(self) -> list[Done]:
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

    def close(self) -> list[Done]:
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


def own_batch(writer: Writer, session: Session) -> Callable[[list[Good]], Done]:
    """A batch on a writer's own session: committed when written, rolled back when not."""
    def work(goods: list[Good]) -> Done:
        try:
            return writer.batch(goods, session.commit, False)
        except BaseException:
            session.rollback()
            raise
    return work
