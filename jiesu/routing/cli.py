"""`jiesu routing ...`: train the category classifier, classify a CSV of messages, evaluate on labelled rows.

Errors are one red line on stderr and exit code 1 (2 for a bad option), as in jiesu/cli.py; never a traceback.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jiesu.config import get_settings
from jiesu.errors import DomainError
from jiesu.routing import classifier

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
    from jiesu import migrate
    from jiesu.db import make_engine, make_sessionmaker, unit_of_work
    from jiesu.permissions import SYSTEM
    from jiesu.routing import service as routing

    engine = make_engine(settings.effective_database_url)
    try:
        status = migrate.check(engine)
        if status.current != status.head:
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
