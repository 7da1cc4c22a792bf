"""`jiesu topics ...` (每月一题: rank the candidates, adopt one, list, show, close) and `jiesu projects ...` (治理项目:
create from a hot spot or a topic, list, show, step, progress updates, milestones, linked tickets, and the effect
as a difference in differences, in a table, JSON or Excel).

As everywhere in `jiesu` the shell acts as the administrator; errors are one red line and exit code 1 (2 for a
bad option), never a traceback.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from jiesu.clock import Clock, SystemClock
from jiesu.config import get_settings
from jiesu.hotspots import projects, rules
from jiesu.hotspots.project_schemas import CandidatesOut, EffectOut, ProjectBrief, ProjectOut, TopicDetailOut, TopicOut
from jiesu.permissions import SYSTEM
from jiesu.shell import console, err, fail, session_scope

topics_app = typer.Typer(help="The topic of the month (每月一题): candidates ranked, adopted topics tracked.",
                         no_args_is_help=True)
projects_app = typer.Typer(help="Proactive projects (治理项目) and their measured effect.", no_args_is_help=True)

JSON = typer.Option("--json", help="print JSON instead of a table")


def clock() -> Clock:
    """The time the commands run at (a test puts its own clock here)."""
    return SystemClock()


def _echo_json(data) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{option}: not a date YYYY-MM-DD: {text!r}", 2) from None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


# --- topics -----------------------------------------------------------------------------------------------

@topics_app.command("rank")
def rank(months: Annotated[int, typer.Option("--months", help="the months ranked over, this one included")] = 12,
         limit: Annotated[int, typer.Option("--limit", help="how many candidates")] = 20,
         as_json: Annotated[bool, JSON] = False) -> None:
    """City-wide problems (first-level category × a keyword theme) ranked by volume, spread, persistence and
    dissatisfaction; the score's formula is printed with them."""
    settings = get_settings()
    with session_scope(settings) as session:
        found = projects.topic_candidates(session, SYSTEM, settings, clock(), months, limit)
    if as_json:
        _echo_json(CandidatesOut.of(found).model_dump(mode="json"))
        return
    table = Table(title=f"每月一题候选（{found.months[0]} 至 {found.months[-1]}，{found.tickets} 件工单）")
    for name in ("#", "候选", "key", "得分", "工单", "街乡镇", "区", "均匀度", "持续月数", "不满意率", "已立题"):
        table.add_column(name, justify="left" if name in ("候选", "key", "已立题") else "right")
    for i, c in enumerate(found.items, start=1):
        table.add_row(str(i), escape(c.title), escape(c.key), f"{c.score:.1f}", str(c.tickets), str(c.streets),
                      str(c.districts), f"{c.evenness:.2f}", f"{c.months_present}/{c.months}",
                      _pct(c.dissatisfaction), ", ".join(c.adopted) or "—")
    console.print(table)
    console.print(found.formula, highlight=False, soft_wrap=True)


@topics_app.command("adopt")
def adopt(month: Annotated[str, typer.Option("--month", help="the month, YYYY-MM")],
          lead: Annotated[str, typer.Option("--lead", help="the lead department's unit code (e.g. zj)")],
          candidate: Annotated[str | None, typer.Option("--candidate", help="a candidate's key, e.g. 03:停车")] = None,
          category: Annotated[str | None, typer.Option("--category", help="a first-level category")] = None,
          keyword: Annotated[list[str] | None, typer.Option("--keyword", help="a keyword (repeatable)")] = None,
          unit: Annotated[list[str] | None, typer.Option("--unit", help="a unit involved (repeatable)")] = None,
          title: Annotated[str | None, typer.Option("--title")] = None,
          note: Annotated[str | None, typer.Option("--note")] = None) -> None:
    """Adopt a theme as the topic of a month, with its lead department and the units involved."""
    category, keywords = _theme(candidate, category, keyword)
    settings = get_settings()
    with session_scope(settings) as session:
        topic = projects.adopt(session, SYSTEM, clock(), settings, month=month, category=category,
                               keywords=keywords, lead=lead, units=unit or [], title=title, note=note)
        out = TopicOut.of(topic)
    console.print(f"topic {out.id} adopted for {out.month}: {out.title} (lead {out.lead.name})", highlight=False)


def _theme(candidate: str | None, category: str | None, keyword: list[str] | None) -> tuple[str, list[str]]:
    if candidate:
        code, sep, word = candidate.partition(":")
        if not sep or not code or not word:
            raise fail(f"--candidate: a candidate's key is CATEGORYCODE:KEYWORD, not {candidate!r}", 2)
        return code, [word]
    if not category:
        raise fail("give --candidate KEY, or --category (and --keyword)", 2)
    return category, keyword or []


@topics_app.command("list")
def list_topics(as_json: Annotated[bool, JSON] = False) -> None:
    """The adopted topics, newest month first."""
    settings = get_settings()
    with session_scope(settings) as session:
        items = [TopicOut.of(t) for t in projects.list_topics(session, SYSTEM)]
    if as_json:
        _echo_json([t.model_dump(mode="json") for t in items])
        return
    table = Table(title="每月一题")
    for name in ("ID", "月份", "题目", "牵头部门", "参与单位", "状态"):
        table.add_column(name)
    for t in items:
        table.add_row(str(t.id), t.month, escape(t.title), escape(t.lead.name),
                      escape("、".join(u.name for u in t.units)) or "—", t.status_label)
    console.print(table)


@topics_app.command("show")
def show_topic(topic_id: Annotated[int, typer.Argument(help="the topic's id")],
               as_json: Annotated[bool, JSON] = False) -> None:
    """One topic with its tickets month by month: received, dispatched, and the callbacks' dissatisfaction."""
    settings = get_settings()
    with session_scope(settings) as session:
        out = TopicDetailOut.of_view(projects.topic_detail(session, SYSTEM, settings, clock(), topic_id))
    if as_json:
        _echo_json(out.model_dump(mode="json"))
        return
    console.print(f"[bold]{escape(out.title)}[/] ({out.month}, {out.status_label}); 牵头 {escape(out.lead.name)}"
                  f"{'; 参与 ' + escape('、'.join(u.name for u in out.units)) if out.units else ''}")
    s = out.series
    table = Table()
    for name in ("月份", "工单", "派单", "回访接通", "不满意", "不满意率"):
        table.add_column(name, justify="right")
    for i, m in enumerate(s.months):
        mark = " ←" if m == out.month else ""
        table.add_row(m + mark, str(s.tickets[i]), str(s.dispatched[i]), str(s.reached[i]), str(s.unsatisfied[i]),
                      _pct(s.dissatisfaction[i]))
    console.print(table)
    console.print(f"月均工单：立题前 {_num(out.before_mean)}，立题后 {_num(out.after_mean)}", highlight=False)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


@topics_app.command("close")
def close_topic(topic_id: Annotated[int, typer.Argument(help="the topic's id")],
                reason: Annotated[str, typer.Option("--reason")] = "") -> None:
    """Close a topic (已结题)."""
    settings = get_settings()
    with session_scope(settings) as session:
        projects.close_topic(session, SYSTEM, clock(), topic_id, reason)
    console.print(f"topic {topic_id} closed", highlight=False)


# --- projects ---------------------------------------------------------------------------------------------

@projects_app.command("create")
def create(owner: Annotated[str, typer.Option("--owner", help="the owner unit's code")],
           title: Annotated[str, typer.Option("--title")],
           hotspot: Annotated[int | None, typer.Option("--hotspot", help="from this hot spot")] = None,
           topic: Annotated[int | None, typer.Option("--topic", help="from this topic")] = None,
           plan: Annotated[str, typer.Option("--plan")] = "",
           budget: Annotated[str, typer.Option("--budget", help="a note on the budget")] = "",
           start: Annotated[str | None, typer.Option("--start", help="started on, YYYY-MM-DD (default today)")] = None
           ) -> None:
    """A project from a hot spot (its place and category; the hot spot becomes 已立项) or from a topic."""
    if (hotspot is None) == (topic is None):
        raise fail("give --hotspot ID or --topic ID (one of them)", 2)
    new = projects.NewProject(owner=owner, title=title, hotspot_id=hotspot, topic_id=topic, plan=plan,
                              budget=budget, started_on=_date(start, "--start"))
    settings = get_settings()
    with session_scope(settings) as session:
        p = projects.create_project(session, SYSTEM, clock(), settings, new)
        out = ProjectBrief.of(p)
    console.print(f"project {out.id} created: {out.title} ({out.owner.name}, {out.started_on})", highlight=False)


@projects_app.command("list")
def list_projects(status: Annotated[rules.ProjectStatus | None, typer.Option("--status")] = None,
                  as_json: Annotated[bool, JSON] = False) -> None:
    """The projects, newest first."""
    settings = get_settings()
    with session_scope(settings) as session:
        items = [ProjectBrief.of(p) for p in projects.list_projects(session, SYSTEM, status)]
    if as_json:
        _echo_json([p.model_dump(mode="json") for p in items])
        return
    table = Table(title="治理项目")
    for name in ("ID", "项目", "责任单位", "地点", "类别", "开工", "进度", "状态"):
        table.add_column(name)
    for p in items:
        table.add_row(str(p.id), escape(p.title), escape(p.owner.name), escape(p.place or "全市"),
                      escape(p.category + (" · " + " ".join(p.keywords) if p.keywords else "")),
                      p.started_on.isoformat(), f"{p.percent}%", p.status_label)
    console.print(table)


@projects_app.command("show")
def show(project_id: Annotated[int, typer.Argument(help="the project's id")],
         as_json: Annotated[bool, JSON] = False) -> None:
    """One project: its plan, milestones, progress updates, events and tickets."""
    settings = get_settings()
    with session_scope(settings) as session:
        out = ProjectOut.of_view(projects.project_detail(session, SYSTEM, settings, project_id))
    if as_json:
        _echo_json(out.model_dump(mode="json"))
        return
    console.print(f"[bold]{escape(out.title)}[/] — {out.status_label}, {out.percent}%", highlight=False)
    console.print(f"责任单位 {escape(out.owner.name)}; 地点 {escape(out.place or '全市')}; 类别 "
                  f"{escape(out.category)}{' · ' + escape(' '.join(out.keywords)) if out.keywords else ''}; 开工 "
                  f"{out.started_on}", highlight=False)
    for label, text in (("方案", out.plan), ("预算", out.budget), ("撤销原因", out.reason)):
        if text:
            console.print(f"{label}: {escape(text)}", highlight=False)
    for m in out.milestones:
        state = f"完成 {m.done_on}" if m.done_on else "未完成"
        console.print(f"  里程碑 {escape(m.title)}: 计划 {m.due_on}, {state}", highlight=False)
    for u in out.updates:
        console.print(f"  进展 {u.at.astimezone(settings.tz):%Y-%m-%d %H:%M} {u.percent}% {escape(u.by)}: "
                      f"{escape(u.text)}", highlight=False)
    console.print(f"可进行的步骤: {', '.join(out.steps) or '—'}; 关联工单 {len(out.linked)} 件; 该地点该类别工单 "
                  f"{out.place_ticket_count} 件", highlight=False)


@projects_app.command("step")
def step(project_id: Annotated[int, typer.Argument(help="the project's id")],
         step_name: Annotated[rules.ProjectStep, typer.Argument(metavar="STEP", help="start, finish or cancel")],
         reason: Annotated[str, typer.Option("--reason", help="required to cancel")] = "") -> None:
    """Move a project on: start (实施中), finish (已完成), cancel (已撤销, with --reason)."""
    settings = get_settings()
    with session_scope(settings) as session:
        p = projects.step(session, SYSTEM, clock(), project_id, step_name, reason)
        label = rules.PROJECT_STATUS_LABELS[p.status]
    console.print(f"project {project_id}: {label}", highlight=False)


@projects_app.command("update")
def update(project_id: Annotated[int, typer.Argument(help="the project's id")],
           text: Annotated[str, typer.Option("--text", help="what was done")],
           percent: Annotated[int, typer.Option("--percent", help="how far along, 0-100")]) -> None:
    """Report progress."""
    settings = get_settings()
    with session_scope(settings) as session:
        projects.add_update(session, SYSTEM, clock(), project_id, text, percent)
    console.print(f"project {project_id}: {percent}%", highlight=False)


@projects_app.command("milestone")
def milestone(project_id: Annotated[int, typer.Argument(help="the project's id")],
              title: Annotated[str, typer.Option("--title")],
              due: Annotated[str, typer.Option("--due", help="due on, YYYY-MM-DD")],
              done: Annotated[str | None, typer.Option("--done", help="done on, YYYY-MM-DD")] = None) -> None:
    """Add a milestone, or give the same title again to move it or mark it done."""
    due_on, done_on = _date(due, "--due"), _date(done, "--done")
    settings = get_settings()
    with session_scope(settings) as session:
        projects.milestone(session, SYSTEM, clock(), project_id, title, due_on, done_on)
    when = f"done {done_on}" if done_on else f"due {due_on}"
    console.print(f"project {project_id}: milestone {title} ({when})", highlight=False)


@projects_app.command("link")
def link(project_id: Annotated[int, typer.Argument(help="the project's id")],
         numbers: Annotated[list[str], typer.Argument(help="ticket numbers")]) -> None:
    """Link tickets to a project by number."""
    settings = get_settings()
    with session_scope(settings) as session:
        added = projects.link_tickets(session, SYSTEM, clock(), project_id, numbers)
    console.print(f"project {project_id}: {added} ticket(s) linked", highlight=False)


@projects_app.command("effect")
def effect(project_id: Annotated[int, typer.Argument(help="the project's id")],
           months: Annotated[int, typer.Option("--months", help="months before the start, and at most after")] = 12,
           k: Annotated[int, typer.Option("--k", help="comparison places")] = rules.DEFAULT_K,
           as_json: Annotated[bool, JSON] = False,
           excel: Annotated[Path | None, typer.Option("--excel", help="write the report to this .xlsx file")] = None
           ) -> None:
    """The effect on the place's tickets: after − before, against the k comparable places without a project
    (difference in differences), with an interval from the comparison places' placebo effects."""
    settings = get_settings()
    now = clock()
    with session_scope(settings) as session:
        report = projects.effect(session, SYSTEM, settings, now, project_id, months, k)
    if excel is not None:
        try:
            excel.write_bytes(projects.effect_xlsx(report, now.now(), settings.tz))
        except OSError as exc:
            raise fail(f"cannot write the report to {excel}: {exc.strerror or exc}") from None
        err.print(f"effect report written to {excel}", highlight=False, soft_wrap=True)
    if as_json:
        _echo_json(EffectOut.of(report).model_dump(mode="json"))
        return
    place = report.place_name or "全市"
    console.print(f"[bold]{escape(report.title)}[/]: {escape(place)} · {escape(report.category)}"
                  f"{' · ' + escape(report.keywords) if report.keywords else ''}; 开工 {report.started_on}"
                  f"（{report.start_month} 为施工月，不计入前后）", highlight=False)
    table = Table()
    for name in ("月份", "阶段", escape(place), "对照平均"):
        table.add_column(name, justify="right")
    for i, m in enumerate(report.months):
        phase = "前" if m in report.before_months else "后" if m in report.after_months else "施工"
        cmp = report.comparison_series[i]
        table.add_row(m, phase, str(report.project_series[i]), "—" if cmp is None else f"{cmp:.1f}")
    console.print(table)
    if report.comparison:
        console.print("对照地点: " + "、".join(f"{escape(p.name)}({p.before:.1f}→{p.after:.1f})"
                                           for p in report.comparison), highlight=False, soft_wrap=True)
    e = report.effect
    if e is None:
        console.print(f"效果: — {report.note}", highlight=False, soft_wrap=True)
    else:
        interval = f"; 区间 {e.low:+.2f} 至 {e.high:+.2f}" if e.low is not None else ""
        console.print(f"效果: {e.formula()}{interval}", highlight=False, soft_wrap=True)
    if report.dissatisfaction is not None:
        console.print(f"不满意率的双重差分: {100 * report.dissatisfaction.effect:+.1f} 个百分点", highlight=False)
    console.print(f"公式: {report.formula}", highlight=False, soft_wrap=True)
