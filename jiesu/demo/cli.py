"""`jiesu demo seed` (and its old name `jiesu seed demo`): the demo city, from nothing to a few thousand
tickets: places, units, categories, deadline policies, routing rules, the demo users, the classifier, the
knowledge base, then the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jiesu import migrate
from jiesu.clock import SystemClock
from jiesu.config import Settings, get_settings
from jiesu.db import make_engine, make_sessionmaker
from jiesu.demo import seed_demo
from jiesu.demo.classifier import ensure_classifier
from jiesu.errors import DomainError
from jiesu.knowledge import service as knowledge
from jiesu.permissions import SYSTEM, Role
from jiesu.places import service as places_service
from jiesu.routing import service as routing_service
from jiesu.shell import console, fail, progress_bar, session_scope
from jiesu.taxonomy import service as taxonomy_service
from jiesu.units import service as units_service
from jiesu.units import users as users_service
from jiesu.units.models import ROLE_LABELS

demo_app = typer.Typer(help="The demo city.", no_args_is_help=True)
seed_app = typer.Typer(help="Seed data.", no_args_is_help=True)


DEMO_USERS = [
    ("admin", Role.admin, None, "系统管理员"),
    ("operator", Role.operator, None, "王芳"),
    ("dispatcher", Role.dispatcher, None, "李强"),
    ("guanyinsi", Role.unit_handler, "110115009000", "刘洋（观音寺街道）"),
    ("xingshou", Role.unit_handler, "110114116000", "孙磊（兴寿镇）"),
    ("callback", Role.callback_agent, None, "赵敏"),
    ("supervisor", Role.supervisor, None, "陈刚"),
    ("guangwainanli", Role.community_worker, "110101013006", "周静（广外南里社区）"),
    ("citizen", Role.citizen, None, "张先生"),
    # the departments the 群租 story whistles in, and the road section of the 安四路 story
    ("h-ga-110115", Role.unit_handler, "ga-110115", "吴警官（大兴公安分局）"),
    ("h-cgzf-110115", Role.unit_handler, "cgzf-110115", "郑队长（大兴城管执法局）"),
    ("h-zj-110115", Role.unit_handler, "zj-110115", "冯工（大兴住建委）"),
    ("h-jt-110114", Role.unit_handler, "jt-110114", "韩工（昌平交通局）"),
]
DEMO_PASSWORD = "jiesu12345"


TICKETS_OPT = typer.Option(min=0, max=200_000, help="tickets the simulator creates (0: none)")
DAYS_OPT = typer.Option(min=1, max=3650, help="spread over this many days before now")
SEED_OPT = typer.Option(help="random seed: the same seed gives the same city")
MODEL_OPT = typer.Option("--model", help="a trained classifier to copy in instead of training one: another var "
                                         "folder, or its models/ folder (default: the one in this var folder, "
                                         "else trained once)")


@demo_app.command("seed")
def demo_seed(tickets: Annotated[int, TICKETS_OPT] = 3000, days: Annotated[int, DAYS_OPT] = 90,
              seed: Annotated[int, SEED_OPT] = 12345, model: Annotated[Path | None, MODEL_OPT] = None) -> None:
    """Migrate, import Beijing's places and categories, create the units and the demo users, then let
    the simulator run a few thousand tickets through the workflow (idempotent: run it again at will)."""
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    migrate.upgrade(engine)
    engine.dispose()
    clock = SystemClock()
    with session_scope(settings) as session, progress_bar() as update:
        report = places_service.import_gazetteer(session, SYSTEM, progress=update)
        unit_report = units_service.bootstrap(session, SYSTEM)
        tax = taxonomy_service.import_tree(session, SYSTEM)
        taxonomy_service.seed_default_policies(session, SYSTEM, clock)
        routing_service.seed_default_rules(session, SYSTEM, clock)
        created = []
        for username, role, unit, display in DEMO_USERS:
            try:
                users_service.get(session, SYSTEM, username)
            except DomainError:
                users_service.create(session, SYSTEM, clock, username=username, password=DEMO_PASSWORD, role=role,
                                     display_name=display, unit_code=unit)
                created.append(username)
    console.print(f"places: {report.districts} districts, {report.streets} streets/townships, "
                  f"{report.communities} communities/villages")
    console.print(f"units: {unit_report.existing + unit_report.total_created}; categories: "
                  f"{' / '.join(str(tax.levels[k]) for k in (1, 2, 3))}")
    table = Table(title=f"demo logins (password for all: {DEMO_PASSWORD})")
    for col in ("username", "role", "who"):
        table.add_column(col)
    for username, role, _unit, display in DEMO_USERS:
        table.add_row(username, f"{role.value} {ROLE_LABELS[role]}", display)
    console.print(table)
    _train_if_missing(settings, model)
    _seed_knowledge(settings)
    if tickets:
        _simulate(settings, tickets, days, seed)


def _seed_knowledge(settings: Settings) -> None:
    """The knowledge base for direct answers: articles from the corpus's replied messages (once)."""
    with session_scope(settings) as session:
        report = knowledge.seed_demo(session, SYSTEM, SystemClock())
    if report.created:
        console.print(f"knowledge base: {report.created} articles from the replied messages ({report.seconds:.1f} s)")
    else:
        console.print(f"knowledge base: {report.skipped} demo articles there already")


def _train_if_missing(settings: Settings, model: Path | None = None) -> None:
    """Smart dispatch needs its classifier: copied from --model, or trained here once (jiesu/demo/classifier.py)."""
    try:
        ensure_classifier(settings, model, say=console.print)
    except DomainError as exc:
        raise fail(exc.message) from None


def _simulate(settings: Settings, tickets: int, days: int, seed: int) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        with progress_bar() as update:
            report = seed_demo(make_sessionmaker(engine), datetime.now(UTC), settings, tickets=tickets, days=days,
                               seed=seed, progress=update)
    except DomainError as exc:
        raise fail(exc.message) from None
    finally:
        engine.dispose()
    if report.skipped:
        console.print(f"demo tickets: {report.message}")
        return
    states = ", ".join(f"{n} {state}" for state, n in sorted(report.states.items(), key=lambda kv: -kv[1]))
    console.print(f"demo tickets: {report.tickets} tickets and {report.direct_answers} direct answers over "
                  f"{days} days, {report.events} events in {report.seconds:.1f} s: {states}")
    story = report.story
    if story and story.calls:
        c = story.counts
        total = c["tiantanghe_before"] + c["tiantanghe_after"]
        console.print(f"天堂河: {total} calls ({c['tiantanghe_before']} before "
                      f"the renovation began on {story.works_start.astimezone(settings.tz):%Y-%m-%d}, "
                      f"{c['tiantanghe_after']} after), its neighbours {c['neighbours']}, 观音寺南里's parking "
                      f"{c['rising_slow'] + c['rising_fast']}, the burst main {c['surge']}, e-bike charging "
                      f"{c['topic']}; {story.before_window} of them before the window, on top of the tickets")
    g = report.governed
    if g:
        console.print(f"hot spots: {g.hotspots}; 天堂河: {g.tiantanghe or '—'}")
        for line in g.surges:
            console.print(f"surge raised: {line}")
        if g.project is not None:
            console.print(f"project {g.project} (`jiesu projects effect {g.project}`): {g.effect}")
        if g.topic:
            console.print(f"topic of the month: {g.topic}")
        for note in g.notes:
            console.print(f"[yellow]{note}[/yellow]")


@seed_app.command("demo")
def seed_demo_command(tickets: Annotated[int, TICKETS_OPT] = 3000, days: Annotated[int, DAYS_OPT] = 90,
                      seed: Annotated[int, SEED_OPT] = 12345) -> None:
    """The demo city: the same as `jiesu demo seed`."""
    demo_seed(tickets=tickets, days=days, seed=seed)
