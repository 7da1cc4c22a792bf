"""`jiesu hotspots mine | surges | list | act`: hot spots and surges from the shell (as the administrator).

`jiesu hotspots mine --input TICKETS.csv --output FOUND.csv` needs no database: it replays the file as the
nightly and hourly runs would (jiesu.hotspots.files) and writes what they would have raised.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jiesu.clock import Clock, SystemClock
from jiesu.config import get_settings
from jiesu.errors import DomainError
from jiesu.hotspots import files, service
from jiesu.hotspots.schemas import HotSpotOut, MineOut, SurgeOut
from jiesu.permissions import SYSTEM
from jiesu.shell import console, err, fail, session_scope

hotspots_app = typer.Typer(help="Hot spots (热点) and surges (突发): mine them, list them, decide on them.",
                           no_args_is_help=True)


def clock() -> Clock:
    """The time the commands run at (a test puts its own clock here)."""
    return SystemClock()


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{name}: not a date YYYY-MM-DD: {value!r}", 2) from None


def _classifier():
    """texts -> first-level category names, from smart dispatch's trained model, loaded at the first empty
    category (a file with every category filled needs none)."""
    from jiesu.routing import classifier  # numpy and scikit-learn's model: only when the file needs it

    settings, model = get_settings(), []

    def classify(texts: list[str]) -> list[str]:
        if not model:
            model.append(classifier.load(settings))
        return [name for name, _ in model[0].predict_many([""] * len(texts), texts)]

    return classify


def _replay(input: Path, output: Path) -> None:
    if not input.is_file():
        raise fail(f"--input: no such file: {input}", 2)
    try:
        written = files.replay_file(input, output, classify=_classifier())
    except DomainError as exc:  # the classifier: none trained
        raise fail(f"{input.name} has rows without a category and {exc.message}; fill its category column or "
                   "train the classifier (`jiesu routing train`)") from None
    except ValueError as exc:  # files.BadRow names the row and column
        raise fail(f"--input {exc}", 2) from None
    except OSError as exc:
        raise fail(f"--output: cannot write {output}: {exc.strerror}", 2) from None
    err.print(f"{written} hot spot(s) and surge(s) -> {output}", highlight=False)


@hotspots_app.command("mine")
def mine(
    since: Annotated[str | None, typer.Option("--since", help="first local day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="last local day, YYYY-MM-DD (default yesterday)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
    input: Annotated[Path | None, typer.Option("--input", help="a TICKETS.csv to replay, without the database")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="where the replay writes FOUND.csv")] = None,
) -> None:
    """Mine hot spots over [since, until] (default: the 64 weeks to yesterday) and keep them; or, with --input and
    --output, replay a CSV of tickets without the database."""
    if input is not None or output is not None:
        if input is None or output is None:
            raise fail("give both --input TICKETS.csv and --output FOUND.csv", 2)
        if since or until:
            raise fail("--since/--until work on the database; a file is replayed whole", 2)
        _replay(input, output)
        return
    first, last = _day(since, "--since"), _day(until, "--until")
    settings = get_settings()
    with session_scope(settings) as session:
        report = service.mine(session, SYSTEM, clock(), settings, first, last)
    if as_json:
        console.print_json(MineOut.of(report).model_dump_json())
        return
    console.print(f"{report.since} .. {report.until}: {report.tickets:,} tickets ({report.repeats:,} repeats counted "
                  f"once) in {report.cells:,} cells; {report.found} hot spot(s): {report.created} new, "
                  f"{report.updated} updated, {report.reopened} reopened; cube {report.cube_seconds:.2f} s, "
                  f"detection {report.detect_seconds:.2f} s, {report.seconds:.2f} s in all", highlight=False)


@hotspots_app.command("surges")
def surges(
    scan: Annotated[bool, typer.Option("--scan/--no-scan", help="scan the last hours first, as the clock does")] = True,
    status: Annotated[str | None, typer.Option("--status", help="raised, acknowledged, dismissed")] = "raised",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Scan for surges up to the last whole hour (raising the new ones), then list them (default: those raised)."""
    settings, now = get_settings(), clock()
    with session_scope(settings) as session:
        raised = service.scan(session, SYSTEM, now, settings).raised if scan else []
        page = service.list_surges(session, SYSTEM, status=status or None, limit=limit)
        items = [SurgeOut.of(r, SYSTEM) for r in page.rows]
    if as_json:
        console.print_json(json.dumps({"raised": [s.id for s in raised], "total": page.total,
                                       "items": [i.model_dump(mode="json") for i in items]}, ensure_ascii=False))
        return
    if scan:
        console.print(f"{len(raised)} new surge(s) raised", highlight=False)
    table = Table("id", "地点", "类别", "状态", "窗口", "实际", "预期", "p", "标题")
    tz = settings.tz
    for s in items:
        table.add_row(str(s.id), s.place.name, s.category, s.status_label,
                      f"{s.first_at.astimezone(tz):%m-%d %H:%M}–{s.last_at.astimezone(tz):%H:%M} ({s.window_hours} h)",
                      str(s.observed), f"{s.expected:.1f}", f"{s.p_value:.1e}", s.title)
    console.print(table)
    console.print(f"{page.total} surge(s)", highlight=False)


@hotspots_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="open, watched, project, dismissed")] = None,
    label: Annotated[str | None, typer.Option("--label", help="new, intensifying, persistent, sporadic, "
                                                              "diminishing")] = None,
    district: Annotated[str | None, typer.Option("--district", help="a district's code")] = None,
    street: Annotated[str | None, typer.Option("--street", help="a street's code")] = None,
    category: Annotated[str | None, typer.Option("--category", help="a first-level category's name")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The hot spots kept, highest score first."""
    settings = get_settings()
    with session_scope(settings) as session:
        page = service.list_hotspots(session, SYSTEM, status=status, label=label, district=district, street=street,
                                     category=category, limit=limit)
        items = [HotSpotOut.of(r, SYSTEM) for r in page.rows]
    if as_json:
        console.print_json(json.dumps({"total": page.total, "items": [i.model_dump(mode="json") for i in items]},
                                      ensure_ascii=False))
        return
    table = Table("id", "地点", "类别", "状态", "趋势", "时间范围", "实际", "预期", "得分", "标题")
    for h in items:
        table.add_row(str(h.id), h.place.name, h.category, h.status_label, h.label_text,
                      f"{h.first_day}–{h.last_day}", str(h.observed), f"{h.expected:.1f}", f"{h.score:.1f}", h.title)
    console.print(table)
    console.print(f"{page.total} hot spot(s)", highlight=False)


@hotspots_app.command("act")
def act(
    entity_id: Annotated[int, typer.Argument(metavar="ID", help="the hot spot's (or with --surge the surge's) id")],
    step: Annotated[str, typer.Argument(metavar="STEP", help="watch, unwatch, dismiss, reopen; surges: "
                                                             "acknowledge, dismiss")],
    reason: Annotated[str | None, typer.Option("--reason", help="why (required to dismiss)")] = None,
    surge: Annotated[bool, typer.Option("--surge", help="ID is a surge's")] = False,
) -> None:
    """Take one step on a hot spot or a surge; the event is kept with who and why."""
    settings = get_settings()
    with session_scope(settings) as session:
        entity = service.act(session, SYSTEM, clock(), entity_id, step, reason, kind="surge" if surge else "hotspot")
        status = entity.status.value
    console.print(f"{'surge' if surge else 'hot spot'} {entity_id}: {status}", highlight=False)
