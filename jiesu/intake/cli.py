"""`jiesu tickets ...`: bring a city's historical tickets over from its older system.

Errors are one red line on stderr and exit code 1 (2 for a bad option), as everywhere in `jiesu`; never a
traceback.
"""

from __future__ import annotations

import csv
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from jiesu.clock import SystemClock
from jiesu.config import get_settings
from jiesu.intake.history import importer
from jiesu.permissions import SYSTEM
from jiesu.shell import fail, session_scope

tickets_app = typer.Typer(help="Tickets: bring history over from an older system.", no_args_is_help=True)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

REJECTED = 3  # the exit code of an import that loaded what it could and rejected some rows
REPORT_COLUMNS = ("line", "number", "field", "reason")


class Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def default_report(path: Path) -> Path:
    """history.csv -> history.rejected.csv, beside the file."""
    name = path.name
    for suffix in (".gz", ".csv", ".jsonl", ".ndjson", ".json", ".txt"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[:-len(suffix)]
    return path.with_name(name + ".rejected.csv")


IMPORT_HELP = (
    "Load historical tickets: the old system's number, times, text, place, category, unit, final state and "
    "callback answers, one ticket a row. Idempotent on the old number: a second run adds nothing. Bad rows go "
    "to the report with their reason and the rest is loaded; each batch is committed as it is written, so an "
    "interrupted import is finished by running it again.\n\n"
    "Columns (only number, created_at and text are required): " + ", ".join(importer.COLUMNS) + ". Naive times "
    "are local (JIESU_TIMEZONE). See jiesu/intake/history/read.py for what each holds.\n\n"
    "Exit code 0: every row loaded or imported before; 3: some rows rejected (see the report); 1: the import "
    "could not run (no file, not UTF-8, unknown columns ...).")


@tickets_app.command("import", help=IMPORT_HELP)
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8, with a header) or JSON Lines; .gz too")],
    report_path: Annotated[Path | None, typer.Option(
        "--report", help="where the rejected rows go (line, number, field, reason) (default: FILE.rejected.csv "
                         "beside FILE)")] = None,
    fmt: Annotated[Format | None, typer.Option("--format", help="csv or jsonl (default: from the file's "
                                                                "suffix)")] = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="tickets per transaction")] = importer.DEFAULT_BATCH,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row and write the report; load "
                                                            "nothing")] = False,
) -> None:
    if not file.exists():
        raise fail(f"no such file: {file}")
    if file.is_dir():
        raise fail(f"{file} is a folder, not a file")
    report_path = report_path or default_report(file)
    if report_path.resolve() == file.resolve():
        raise fail("the report would overwrite the input: give --report another path", 2)
    try:
        out = open(report_path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise fail(f"cannot write the report {report_path}: {exc.strerror}") from None
    settings = get_settings()
    started = time.perf_counter()
    rejected = 0
    report = None
    try:
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)

        def on_reject(r: importer.Rejection) -> None:
            nonlocal rejected
            rejected += 1
            writer.writerow((r.line, r.number, r.field, r.reason))

        columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn())
        bar = Progress(*columns, console=err, transient=False)
        task = bar.add_task(f"importing {file.name}", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            if not bar.live.is_started:
                bar.start()  # at the first batch: a file refused at once shows no bar
            bar.update(task, description=stage, completed=done, total=total or None)

        with session_scope(settings) as session:
            try:
                report = importer.import_tickets(session, SYSTEM, SystemClock(), settings, file,
                                                 fmt=fmt.value if fmt else None, batch=batch, progress=progress,
                                                 on_reject=on_reject, commit=session.commit, dry_run=dry_run)
            except KeyboardInterrupt:
                raise fail("interrupted: the batches written so far are kept; run the same import again to "
                           "finish it", 130) from None
            finally:
                bar.stop()
    finally:
        out.close()
        if report is None and not rejected:
            report_path.unlink(missing_ok=True)  # the import did not run: no report to mislead
    seconds = time.perf_counter() - started
    verb = "would load" if dry_run else "loaded"
    console.print(f"{file.name}: {report.read:,} rows read in {seconds:.1f} s "
                  f"({report.read / seconds if seconds else 0:,.0f} rows/s)")
    console.print(f"  {verb} {report.loaded:,} ticket(s), {report.callbacks:,} with callback answers")
    console.print(f"  {report.signs:,} with their dispatch and sign times for the response rate "
                  f"({report.signs_by_policy:,} sign deadline(s) from the deadline policy); {report.no_signs:,} "
                  "without: not counted in it (left empty, not guessed)")
    if report.skipped_existing:
        console.print(f"  {report.skipped_existing:,} imported before: left as they are")
    if report.periods and not dry_run:
        shown = ", ".join(report.periods[:12]) + (" ..." if len(report.periods) > 12 else "")
        console.print(f"  assessment months with new facts: {shown}; read live until `jiesu assess rollup "
                      "--month` keeps them again")
    if report.rejected:
        console.print(f"  [bold yellow]{report.rejected:,} rows rejected[/]: see {report_path}")
        raise typer.Exit(REJECTED)
    console.print(f"  no row rejected ({report_path} lists none)")
