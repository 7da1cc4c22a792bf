"""`jiesu routing ...`: train the category classifier, classify a CSV of messages, evaluate on labelled rows;
the routing rules table; one suggestion; how often dispatchers followed the suggestions.

Errors are one red line on stderr and exit code 1 (2 for a bad option), as everywhere in `jiesu`; never a
traceback.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jiesu import revisions, shell
from jiesu.clock import SystemClock
from jiesu.config import get_settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.errors import DomainError
from jiesu.permissions import SYSTEM
from jiesu.routing import classifier
from jiesu.routing import service as routing

routing_app = typer.Typer(help="Smart dispatch: the category classifier (train, classify a CSV, evaluate).",
                          no_args_is_help=True)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

PREDICTED, CONFIDENCE = "predicted_category", "confidence"


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)  # one line at any width
    return typer.Exit(code)


def _domain(exc: DomainError) -> typer.Exit:
    return fail(exc.message)


def print_report(report: classifier.Report, title: str) -> None:
    """Per-class precision/recall/F1, the `macro-F1 0.xxxx` line, and the confusion matrix."""
    table = Table(title=title)
    for col in ("category", "precision", "recall", "F1", "rows"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for i, name in enumerate(report.labels):
        table.add_row(name, f"{report.precision[i]:.4f}", f"{report.recall[i]:.4f}", f"{report.f1[i]:.4f}",
                      str(report.support[i]))
    console.print(table)
    typer.echo(f"macro-F1 {report.macro_f1:.4f}")
    typer.echo(f"accuracy {report.accuracy:.4f} on {report.rows} rows"
               + (f"; mean confidence {report.mean_confidence:.4f}" if report.mean_confidence is not None else ""))
    matrix = Table(title="confusion matrix (rows: true label, columns: predicted)")
    matrix.add_column("true \\ predicted")
    for name in report.labels:
        matrix.add_column(name[:4], justify="right")
    for name, row in zip(report.labels, report.confusion, strict=True):
        matrix.add_row(name, *(str(n) for n in row))
    console.print(matrix)


@routing_app.command("train")
def train(
    input: Annotated[Path | None, typer.Option("--input", help="labelled CSV (留言主题, 留言详情, 一级标签 or "
                                                                 "一级分类); default: the shipped corpus")] = None,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.5, help="share held out for the report")] = 0.2,
    seed: Annotated[int, typer.Option(help="random seed of the stratified split")] = 0,
    corrections: Annotated[bool, typer.Option(help="also learn from dispatchers' corrections in the database "
                                                   "(tickets dispatched under another category than suggested)")]
    = True,
) -> None:
    """Train: report on a stratified held-out part, then refit on every row and save the model."""
    settings = get_settings()
    started = time.perf_counter()
    extra = _corrections(settings) if corrections else []
    if extra:
        err.print(f"learning from {len(extra)} dispatchers' corrections too")
    try:
        result = classifier.train(settings, input=input, holdout=holdout, seed=seed, extra=extra,
                                  progress=lambda msg: err.print(msg))
    except DomainError as exc:
        raise _domain(exc) from None
    except ValueError as exc:  # scikit-learn's: e.g. a class with a single row cannot be split stratified
        raise fail(f"cannot train on this file: {exc}") from None
    meta = result.model.meta
    print_report(result.report, f"held-out report: a model fitted on {result.train_rows} rows, tested on the "
                                f"other {result.holdout_rows} (stratified {holdout:.0%}, seed {seed})")
    console.print(f"saved model {meta['version']}: refit on all {meta['rows']} rows (so it has seen the held-out "
                  f"rows too; the figures above are for the model that had not) -> {result.path}")
    console.print(f"confidence temperature {result.model.temperature:.3f}; {time.perf_counter() - started:.1f} s")


def _corrections(settings) -> list[tuple[str, str, str]]:
    """The corrections recorded in the database, when there is a current one; none otherwise."""
    engine = make_engine(settings.effective_database_url)
    try:
        if not revisions.is_current(engine)[0]:
            return []
        with unit_of_work(make_sessionmaker(engine)) as session:
            return routing.corrections(session, SYSTEM)
    finally:
        engine.dispose()


def _read_rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise fail(f"no such file: {path}")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            missing = [c for c in required if c not in header]
            if missing:
                raise fail(f"{path.name}: missing column(s) {', '.join(missing)} (it has: {', '.join(header) or '-'})")
            return header, list(reader)
    except UnicodeDecodeError as exc:
        raise fail(f"{path.name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from None
    except csv.Error as exc:
        raise fail(f"{path.name}: not a readable CSV ({exc})") from None


@routing_app.command("classify")
def classify(
    input: Annotated[Path, typer.Option("--input", help="UTF-8 CSV with columns 留言主题 and 留言详情")],
    output: Annotated[Path, typer.Option("--output", help="where to write it with predicted_category and "
                                                          "confidence appended ('-': standard output)")],
) -> None:
    """Append predicted_category and confidence to every row of a CSV; other columns stay as they are."""
    header, rows = _read_rows(input, (classifier.TITLE_COLUMN, classifier.TEXT_COLUMN))
    try:
        model = classifier.load(get_settings())
    except DomainError as exc:
        raise _domain(exc) from None
    predictions = model.predict_many([r[classifier.TITLE_COLUMN] or "" for r in rows],
                                     [r[classifier.TEXT_COLUMN] or "" for r in rows])
    to_stdout = str(output) == "-"
    fh = sys.stdout if to_stdout else open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        writer = csv.writer(fh)
        writer.writerow([*header, PREDICTED, CONFIDENCE])
        for row, (category, confidence) in zip(rows, predictions, strict=True):
            writer.writerow([*(row.get(c) or "" for c in header), category, f"{confidence:.4f}"])
    finally:
        if not to_stdout:
            fh.close()
    if not to_stdout:
        err.print(f"{len(rows)} rows classified with model {model.version} -> {output}")


@routing_app.command("evaluate")
def evaluate(
    input: Annotated[Path, typer.Option("--input", help="labelled CSV: 留言主题, 留言详情, 一级标签 or 一级分类")],
) -> None:
    """The current model's report against a labelled file's own labels."""
    try:
        data = classifier.read_labelled(input)
        model = classifier.load(get_settings())
    except DomainError as exc:
        raise _domain(exc) from None
    if not data.labels:
        raise fail(f"{input.name}: no row has both 留言详情 and a label")
    report = classifier.evaluate(model, data.titles, data.texts, data.labels)
    print_report(report, f"model {model.version} on {input.name}")


# --- the rules table, one suggestion, accuracy -------------------------------------------------------------
# These print with the shell's console and go through its session scope (jiesu.shell), as all of `jiesu`.

rules_app = typer.Typer(help="The routing rules table: (category, area) → main unit and co-units.",
                        no_args_is_help=True)
routing_app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def routing_rules_list() -> None:
    """Every routing rule, most general first."""
    with shell.session_scope() as session:
        rows = routing.list_rules(session, SYSTEM)
        table = Table("id", "category", "area", "main unit", "co-units", "active", "note")
        for r in rows:
            table.add_row(str(r.id), r.category_scope, r.area_code or "*", r.main,
                          ", ".join(json.loads(r.co_units)), "yes" if r.active else "no", r.note)
    shell.console.print(table)
    shell.console.print(f"{len(rows)} rules; with no rule, a request goes to the street/township of its place.")


@rules_app.command("set")
def routing_rules_set(
    category: Annotated[str, typer.Option(help="category code or prefix (e.g. 01.02), or * for any")],
    main: Annotated[str, typer.Option(help="unit code, or @street, @community, @district, @branch:<key>")],
    area: Annotated[str | None, typer.Option(help="district or street/township code (default: anywhere)")] = None,
    co: Annotated[list[str] | None, typer.Option(help="a co-unit (repeat the option for more)")] = None,
    note: Annotated[str, typer.Option()] = "",
    inactive: Annotated[bool, typer.Option("--inactive", help="keep the rule but do not apply it")] = False,
) -> None:
    """Add or replace the rule for (category, area)."""
    with shell.session_scope() as session:
        rule = routing.set_rule(session, SYSTEM, SystemClock(), category_scope=category, area_code=area, main=main,
                                co_units=co or [], note=note, active=not inactive)
        shell.console.print(f"rule #{rule.id}: {rule.category_scope} @ {rule.area_code or '*'} → {rule.main} "
                              f"{json.loads(rule.co_units)}")


@rules_app.command("delete")
def routing_rules_delete(rule_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Delete a rule by its id."""
    with shell.session_scope() as session:
        routing.delete_rule(session, SYSTEM, rule_id)
    shell.console.print(f"rule #{rule_id} deleted")


@rules_app.command("seed")
def routing_rules_seed() -> None:
    """The default rules (water, power, gas, heating to their companies, copied to the street)."""
    with shell.session_scope() as session:
        added = routing.seed_default_rules(session, SYSTEM, SystemClock())
    shell.console.print(f"{added} default rules added")


@routing_app.command("suggest")
def routing_suggest(text: Annotated[str, typer.Argument(help="what the citizen said")],
                    address: Annotated[str, typer.Option()] = "",
                    area: Annotated[str | None, typer.Option(help="area code, if already known")] = None,
                    phone: Annotated[str | None, typer.Option(help="the caller's phone (finds repeats)")] = None,
                    ) -> None:
    """Print the suggestion for a request as JSON: category, place, unit(s), urgency, duplicates, reasons."""
    settings = get_settings()
    with shell.session_scope(settings) as session:
        s = routing.suggest(session, SYSTEM, SystemClock(), settings, text=text, address=address, area_code=area,
                            phone=phone)
        out = s.to_dict()
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))


@routing_app.command("accuracy")
def routing_accuracy(month: Annotated[str, typer.Option(help="YYYY-MM")]) -> None:
    """How often dispatchers followed the suggestions in a month, from the event log."""
    settings = get_settings()
    with shell.session_scope(settings) as session:
        a = routing.accuracy(session, SYSTEM, settings, month)

    def rate(followed: int, judged: int) -> str:
        return f"{followed / judged:.1%} ({followed} of {judged})" if judged else "n/a (none judged)"

    shell.console.print(f"{a.month}: {a.dispatched} tickets dispatched with a suggestion, {a.manual} of them "
                          "from the manual queue")
    shell.console.print(f"category followed: {rate(a.category_followed, a.category_judged)}")
    shell.console.print(f"main unit followed: {rate(a.unit_followed, a.unit_judged)}")
