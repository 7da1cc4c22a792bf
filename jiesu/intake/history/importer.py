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
  those months are read live until rolled up again;
- when the old system kept the signing, the assessment's SignFact (响应率) in the month of the dispatch, and the
  unit's code, dispatch time, sign deadline and sign time in the event's payload, which is what
  `assessment.rules.replay` (and so `jiesu assess rebuild`) reads back. It needs the unit, dispatched_at and
  either signed_at or the state `dispatched` (still to sign: open, a miss once the deadline passes); the
  deadline is the file's sign_by, else the city's deadline policy for the category and urgency from
  dispatched_at (as live dispatches get it; the report counts these). A ticket past dispatch without signed_at
  gets none: the old system did not keep when it was signed, and its unit's response rate is left empty for
  it, not guessed. Those months' rollups are dropped too.

Open states are taken as the old system left them (new, dispatched, handling, returned, replied): the
ticket carries on in Jiesu's workflow; those past `new` need their unit. A number already used by a ticket
made in Jiesu is refused; a number seen earlier in the same file is refused as a duplicate.

Bad rows are rejected one by one, each with its line, number, field and reason; the rest load. The work is
done in batches, each in the caller's transaction (or in that of a second connection: see write.py);
`commit` (the CLI passes session.commit) is called after each, so a crash leaves whole batches of whole
tickets, and a second run loads the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.db import WRITE
from jiesu.errors import InvalidInput
from jiesu.intake.history.check import C_NUMBER, Checker, Good, Lookups
from jiesu.intake.history.read import COLUMNS, FORMATS, Bad, Rejection, Source
from jiesu.intake.history.write import Done, Pipeline, Writer, own_batch
from jiesu.permissions import Actor, Permission, require

__all__ = ["COLUMNS", "DEFAULT_BATCH", "FORMATS", "ImportReport", "Progress", "Rejection", "import_tickets"]

DEFAULT_BATCH = 5000
Progress = Callable[[str, int, int], None]  # (what is happening, done, total): bytes of a file, else rows


@dataclass
class ImportReport:
    read: int = 0  # rows read
    loaded: int = 0  # tickets written (a dry run: that would be written)
    skipped_existing: int = 0  # imported before (a second run)
    rejected: int = 0
    callbacks: int = 0  # callbacks written with the tickets, each with its assessment fact
    signs: int = 0  # tickets written with their response-rate fact (dispatch and signing, or still to sign)
    signs_by_policy: int = 0  # ... whose sign deadline came from the deadline policy (the file had no sign_by)
    no_signs: int = 0  # tickets without one: not dispatched, or the old system kept no sign time (rate left empty)
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


def import_tickets(session: Session, actor: Actor, clock: Clock, settings: Settings,
                   source: Path | str | Iterable[Mapping[str, Any]], *, fmt: str | None = None,
                   batch: int = DEFAULT_BATCH, progress: Progress | None = None,
                   on_reject: Callable[[Rejection], None] | None = None, commit: Callable[[], None] | None = None,
                   dry_run: bool = False, batched_references: bool | None = None,
                   connections: int | None = None) -> ImportReport:
    """Load historical tickets from a file (CSV or JSON Lines, .gz too) or from rows (mappings keyed by
    COLUMNS). Rejected rows go to `on_reject` (else into report.rejections), in file order; `commit` is
    called after each batch. `dry_run` reads and checks everything and looks the numbers up, writing
    nothing. `batched_references`: None decides by the role's rights (see write.py), False
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
    src = Source(source, fmt)
    extra: list[Session] = []
    try:
        if session.get_bind().dialect.name == "sqlite" and not session.in_transaction() and not dry_run:
            session.connection(execution_options={WRITE: True})  # the import writes: SQLite's lock up front
        now = clock.now()
        writer = Writer(session, now, batched_references)
        report.reference_checks = "batched" if writer.batched else "per row"
        bind = session.get_bind()
        alone = isinstance(bind, Engine) and not writer.sqlite and commit is not None and not dry_run
        if connections is None:
            connections = 0 if writer.sqlite else 2 if alone else 1
        if connections < 0 or (connections > 1 and not alone):
            raise InvalidInput("more than one connection needs PostgreSQL, a commit per batch and a session "
                               "bound to an engine", field="connections")
        report.connections = connections
        lookups = Lookups(session)
        if src.columns is None or "place" in src.columns:
            lookups.load_resolver()  # now: the writers' threads will hold the session
        checker = Checker(lookups, settings)
        works = [lambda goods: writer.batch(goods, commit, dry_run)]
        for _ in range(connections - 1):
            own = Session(bind=bind)
            extra.append(own)
            works.append(own_batch(Writer(own, now, batched_references), own))
        pending: list[list[Rejection]] = []  # each batch's own rejections, reported when it is written
        periods: set[str] = set()

        def finished(results: list[Done]) -> None:
            for r in results:
                own = pending.pop(0)
                for rejection in sorted(own + r.refused, key=lambda x: x.line) if r.refused else own:
                    reject(rejection)
                report.rejected += len(own) + len(r.refused)
                report.skipped_existing += r.skipped
                report.loaded += r.loaded
                report.callbacks += r.callbacks
                report.signs += r.signs
                report.signs_by_policy += r.signs_by_policy
                report.no_signs += r.loaded - r.signs
                report.write_seconds += r.seconds
                periods.update(r.periods)
                if progress is not None:
                    progress(report.line(), src.done if src.format != "rows" else report.read, src.total)

        pipe = Pipeline(works, threaded=connections > 0)
        try:
            rows, check = src.rows, checker.check
            while True:
                p0 = time.perf_counter()
                goods: list[Good] = []
                bad: list[Rejection] = []
                for line, values in rows:
                    report.read += 1
                    try:
                        if isinstance(values, Bad):
                            raise values
                        goods.append(check(line, values))
                    except Bad as exc:
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
