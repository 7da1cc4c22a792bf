"""`jiesu assess ...`: the monthly ranking (a table, CSV, Excel, JSON), rollup and rebuild of a month, the
supervision lists, and the tickets behind any figure.

As everywhere in `jiesu` (jiesu/shell.py) the shell acts as the administrator; errors are one red line
and exit code 1 (2 for a bad option), never a traceback.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from jiesu.assessment import export, rules
from jiesu.assessment import service as assessment
from jiesu.callback.models import RESOLUTION_LABELS, SATISFACTION_LABELS, Resolution, Satisfaction
from jiesu.clock import Clock, FixedClock, SystemClock
from jiesu.config import get_settings
from jiesu.permissions import SYSTEM
from jiesu.shell import console, err, fail, session_scope

assess_app = typer.Typer(help="The assessment (考核): monthly rankings and reports, supervision, drill-down.",
                         no_args_is_help=True)


class Level(StrEnum):
    street = "street"
    district = "district"
    department = "department"


Measure = StrEnum("Measure", {m: m for m in assessment.ALL_MEASURES})  # what `behind` can open


MONTH = typer.Option("--month", help="the assessment month, YYYY-MM (e.g. 2023-03)")
LEVEL = typer.Option("--level", help="street (街道 and 乡镇), district (区) or department (市级部门及公共服务企业)")
JSON = typer.Option("--json", help="print JSON instead of a table")


def clock() -> Clock:
    """The time the commands run at (a test puts its own clock here)."""
    return SystemClock()


def _month(text: str) -> str:
    try:
        rules.parse_period(text)
    except ValueError as exc:
        raise fail(f"--month: {exc}") from None
    return text.strip()


def _echo_json(data) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _write(path: Path, write, what: str) -> None:
    try:
        write(path)
    except OSError as exc:
        raise fail(f"cannot write {what} to {path}: {exc.strerror or exc}") from None
    err.print(f"{what} written to {path}", highlight=False, soft_wrap=True)


TERMINAL_COLUMNS = {"rank", "rank_in_district", "name", "group", "response", "valid", "contact",
                    "resolution", "satisfaction", "composite", "change", "bottom"}
WIDE = 280  # the terminal's width that shows all the columns the files carry (24 for streets)
NARROW_COLUMNS = {"rank", "name", "response", "valid", "resolution", "satisfaction", "composite", "bottom"}


def total_line(label: str, counts, rates, sign_upheld: int) -> str:
    """A totals line: every rate beside the counts it is made of ("—": no denominator, not 0)."""
    return (f"{label}: 计入派单量 {counts.dispatched}（按时签收 {counts.signed}, 超时签收 {counts.late}, 逾期未签收 "
            f"{counts.missed}; 暂不计入 {counts.pending}, 退单审核通过 {sign_upheld} 不计入）, 响应率 "
            f"{export.pct(rates.response)}; 有效回访量 {counts.valid}, 联系率 {export.pct(rates.contact)}, 解决率 "
            f"{export.pct(rates.resolution)}, 满意率 {export.pct(rates.satisfaction)}; 综合得分 "
            f"{export.score(rates.composite)}")


def print_ranking(ranking: assessment.Ranking, tz) -> None:
    cols = export.columns(ranking.level)
    narrow = console.width < WIDE  # below it, every column would be cut to a few characters
    if narrow:  # a terminal shows what is read first; the files and --json carry every column
        keep = TERMINAL_COLUMNS if console.width >= 110 else NARROW_COLUMNS
        cols = [c for c in cols if c.key in keep]
    table = Table(title=export.title(ranking), caption=export.period_line(ranking, tz), show_lines=False,
                  box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD, pad_edge=not narrow)
    for c in cols:
        table.add_column(c.header, justify="left" if c.kind == "text" and c.key != "bottom" else "right",
                         no_wrap=c.key in ("name", "key"))
    for i, r in enumerate(ranking.rows):
        values = export.row_dict(r)
        cells = [escape(export.cell_text(c, values)) for c in cols]
        if r.bottom:
            cells = [f"[bold red]{t}[/]" if t else t for t in cells]
        elif r.rank is None:
            cells = [f"[dim]{t}[/]" if t else t for t in cells]
        last_of_group = i + 1 == len(ranking.rows) or ranking.rows[i + 1].group != r.group
        table.add_row(*cells, end_section=last_of_group)
    console.print(table)
    counts, rates = export.table_total(ranking)
    console.print(total_line("本表合计", counts, rates, sum(r.sign_upheld for r in ranking.rows)), highlight=False,
                  soft_wrap=True)
    console.print(total_line("全市合计", ranking.total, ranking.total_rates, ranking.sign_upheld), highlight=False,
                  soft_wrap=True)
    console.print("考核公式:", style="bold")
    for line in ranking.formulas or ranking.formula.describe():
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    for line in export.notes(ranking):
        console.print(f"  {line}", highlight=False, soft_wrap=True)


@assess_app.command("rates")
def rates(
    month: Annotated[str, MONTH],
    level: Annotated[Level, LEVEL] = Level.street,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="also write the Excel report here")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="also write the rows as CSV (UTF-8) here")] = None,
    as_json: Annotated[bool, JSON] = False,
    live: Annotated[bool, typer.Option("--live", help="read the facts even when the month was rolled up")] = False,
) -> None:
    """The month's ranking: ranked within 街道/乡镇 (and within each district), districts, or departments; the
    bottom named 末位, last month's score and the change, the formulas and what was left out."""
    month = _month(month)
    settings = get_settings()
    with session_scope(settings) as session:
        ranking = assessment.ranking(session, SYSTEM, settings, clock(), month, level.value,
                                     prefer_rollup=not live)
    now = clock().now()
    if xlsx is not None:
        _write(xlsx, lambda p: export.write_xlsx(ranking, p, settings.tz, now), "Excel report")
    if csv_path is not None:
        _write(csv_path, lambda p: export.write_csv(ranking, p), "CSV")
    if as_json:
        _echo_json(export.to_dict(ranking, settings.tz))
    else:
        print_ranking(ranking, settings.tz)


@assess_app.command("rollup")
def rollup(month: Annotated[str, MONTH]) -> None:
    """Keep a closed month's cells: its rankings then read a few thousand rows, however many tickets it had.
    Refused for a month still running."""
    month = _month(month)
    settings = get_settings()
    with session_scope(settings) as session:
        cells = assessment.rollup(session, settings, clock(), month)
    console.print(f"{month}: {cells} cells kept", highlight=False)


@assess_app.command("rebuild")
def rebuild(
    month: Annotated[str | None, typer.Option("--month", help="the assessment month, YYYY-MM")] = None,
    every: Annotated[bool, typer.Option("--all", help="every month on record")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="list every figure that changed")] = False,
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """Write months' facts anew from the callbacks and the event log (after the month's start day, the callback
    attempts or a rate's definition changed), keep again the rollups that were kept, and say which figures
    changed."""
    if (month is None) == (not every):
        raise fail("--month YYYY-MM or --all: one of them")
    settings = get_settings()
    with session_scope(settings) as session:
        periods = [_month(month)] if month else assessment.periods_on_record(session, settings)
        done = assessment.rebuild_and_compare(session, settings, clock(), periods)
    report_rebuilt(done, verbose=verbose, as_json=as_json)


def report_rebuilt(done: list[assessment.Rebuilt], *, verbose: bool = False, as_json: bool = False) -> None:
    """What a rebuild wrote and changed, per month and level: the figures that stayed say the definition of
    the others is what changed, not the data."""
    if as_json:
        _echo_json([{"period": r.period, "facts": r.facts, "rollup_kept_again": r.kept, "ranked": r.ranked,
                     "changes": [c.__dict__ for c in r.changes]} for r in done])
        return
    if not done:
        console.print("nothing on record to rebuild", highlight=False)
    labels = export.RATE
    for r in done:
        line = [f"{r.period}: {r.facts} facts written" + ("; rollup kept again" if r.kept else "")]
        for level in assessment.LEVELS:
            if not r.ranked.get(level):
                continue
            moved = [f"{labels[rate]} {r.changed(level, rate)}" for rate in assessment.RATE_NAMES
                     if r.changed(level, rate)]
            line.append(f"  {assessment.LEVEL_LABELS[level]} ({r.ranked[level]}): "
                        + ("changed: " + ", ".join(moved) if moved else "no figure changed"))
        console.print("\n".join(line), highlight=False, soft_wrap=True)
        if verbose:
            for c in r.changes:
                console.print(f"    {c.level} {c.key} {escape(c.name)} {labels[c.rate]}: {_figure(c.rate, c.before)}"
                              f" → {_figure(c.rate, c.after)}", highlight=False, soft_wrap=True)


def _figure(rate: str, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if rate == "composite" else f"{100 * value:.1f}%"


def _tickets_table(title: str, tickets, total: int, tz) -> Table:
    table = Table(title=f"{title} ({total})")
    for col in ("工单编号", "状态", "承办单位", "受理时间", "签收时限", "答复时限", "重办"):
        table.add_column(col)
    for t in tickets:
        table.add_row(t.number, t.state_label, t.unit_name or "-", _local(t.created_at, tz), _local(t.sign_by, tz),
                      _local(t.reply_by, tz), str(t.reopened))
    return table


def _local(at, tz) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else "-"


@assess_app.command("supervise")
def supervise(
    month: Annotated[str, MONTH],
    district: Annotated[str | None, typer.Option(help="only this district (its code)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="tickets per list")] = 50,
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """督办: open tickets past their sign or reply deadline, escalated tickets, units with repeated reopenings."""
    from jiesu.assessment.schemas import supervision_out  # pydantic models: built by the commands that use them

    month = _month(month)
    settings = get_settings()
    with session_scope(settings) as session:
        out = supervision_out(month, assessment.supervision(session, SYSTEM, settings, month, limit, district))
    if as_json:
        _echo_json(out.model_dump(mode="json"))
        return
    c = out.counts
    console.print(_tickets_table("超期未签收 sign overdue", out.sign_overdue, c["sign_overdue"], settings.tz))
    console.print(_tickets_table("超期未答复 reply overdue", out.reply_overdue, c["reply_overdue"], settings.tz))
    console.print(_tickets_table("督办 escalated", out.escalated, c["escalated"], settings.tz))
    table = Table(title=f"{month} 重办 reopened, by unit")
    for col in ("单位", "代码", "重办次数", "重办两次以上的工单"):
        table.add_column(col)
    for u in out.reopened_units:
        table.add_row(u.name, u.code, str(u.reopen_events), str(u.reopened_twice))
    console.print(table)


@assess_app.command("behind")
def behind(
    month: Annotated[str, MONTH],
    level: Annotated[Level, LEVEL] = Level.street,
    key: Annotated[str | None, typer.Option(help="a row's key (unit or district code); none: every unit")] = None,
    measure: Annotated[Measure, typer.Option(help="the figure to open")] = Measure("valid"),
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """The tickets behind one figure of a ranking (e.g. --measure unsatisfied --key 110115009000; the response
    rate's: --measure not_in_time lists the dispatches signed late or not at all)."""
    from jiesu.assessment.schemas import behind_out  # pydantic models: built by the commands that use them

    month = _month(month)
    settings = get_settings()
    frozen = FixedClock(clock().now())  # the sign facts are chosen and labelled at one moment
    with session_scope(settings) as session:
        pairs, total = assessment.behind(session, SYSTEM, settings, frozen, month, level.value, key, measure.value,
                                         limit, offset)
        out = behind_out(session, month, level.value, key, measure.value, limit, offset, pairs, total, frozen.now())
    if as_json:
        _echo_json(out.model_dump(mode="json"))
        return
    table = Table(title=f"{month} {level.value} {key or '(all)'} {measure.value}: {total} tickets"
                        + (f", {offset + 1}-{offset + len(out.items)} shown" if total > len(out.items) else ""))
    if measure.value in assessment.SIGN_MEASURES:  # the response rate's: when sent, due, signed (local time)
        for col in ("工单编号", "状态", "单位", "计为", "派单时间", "签收时限", "签收时间"):
            table.add_column(col)
        for i in out.items:
            table.add_row(i.number, i.state_label, i.unit_name or "-", i.kind_label,
                          _local(i.dispatched_at, settings.tz), _local(i.sign_by, settings.tz),
                          _local(i.signed_at, settings.tz))
    else:
        for col in ("工单编号", "状态", "单位", "计为", "时间", "联系", "解决", "满意"):
            table.add_column(col)
        for i in out.items:
            table.add_row(i.number, i.state_label, i.unit_name or "-", i.kind_label, _local(i.at, settings.tz),
                          "-" if i.contacted is None else ("是" if i.contacted else "否"),
                          RESOLUTION_LABELS[Resolution(i.resolution)] if i.resolution else "-",
                          SATISFACTION_LABELS[Satisfaction(i.satisfaction)] if i.satisfaction else "-")
    console.print(table)
