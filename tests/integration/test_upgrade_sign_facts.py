"""A database that had rates before the sign facts (revision 0010) upgraded by `jiesu db upgrade`, as an
administrator would: every month is rebuilt from the event log, the upgrade says which figures changed, and only
the response rate (and the composite made with it) moves; resolution, satisfaction and contact stay as they were.

The old database is the session's demo city taken back to 0010: its dispatch events lose the sign deadline they
now keep (0010 did not write it) and the sign facts' table goes. The clock's sign-overdue marks in its log then
stand in for the deadlines, and the facts the upgrade writes are the ones the deadlines gave."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from jiesu.assessment import service as assessment
from jiesu.assessment.models import SignFact
from jiesu.clock import SystemClock
from jiesu.config import Settings
from jiesu.db import make_engine
from jiesu.permissions import SYSTEM
from jiesu.revisions import alembic_config
from tests.served import app_env, copy_demo, jiesu


def _facts(engine) -> set[tuple]:
    with Session(engine) as s:
        return {(f.period, f.ticket_id, f.unit_id, f.status, f.signed_at) for f in s.scalars(select(SignFact))}


def _figures(engine, settings: Settings, periods: list[str]) -> dict[tuple, tuple]:
    clock = SystemClock()
    out = {}
    with Session(engine) as s:
        for period in periods:
            r = assessment.ranking(s, SYSTEM, settings, clock, period, "street")
            for row in r.rows:
                out[(period, row.key)] = (row.rates.response, row.rates.contact, row.rates.resolution,
                                          row.rates.satisfaction)
    return out


@pytest.fixture
def old_demo(request, tmp_path):
    """The session's demo city taken back to revision 0010, with the sign facts and figures it had at 0011."""
    var = copy_demo(request.getfixturevalue("demo_var"), tmp_path / "var", "old.db")
    env = app_env(var, "old.db", COLUMNS="200")
    settings = Settings(var_dir=var, database_url=env["JIESU_DATABASE_URL"])
    engine = make_engine(settings.effective_database_url)
    with Session(engine) as s:
        periods = assessment.periods_on_record(s, settings)
    assert len(periods) >= 2, "the demo city spans months"
    facts, figures = _facts(engine), _figures(engine, settings, periods)
    assert facts and any(status == "late" for _, _, _, status, _ in facts)
    with engine.begin() as conn:  # as 0010 wrote them
        conn.execute(text("UPDATE ticket_events SET payload = json_remove(payload, '$.sign_by') "
                          "WHERE action IN ('dispatch', 'uphold_return', 'reject_return')"))
        cfg = alembic_config(env["JIESU_DATABASE_URL"])
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
        assert conn.execute(text("SELECT count(*) FROM ticket_events WHERE payload LIKE '%sign_by%'")).scalar() == 0
    engine.dispose()
    return env, settings, periods, facts, figures


def _caught_up(out: str, periods: list[str], settings: Settings, facts: set, figures: dict) -> None:
    """What `jiesu db upgrade` (or a restore) printed and wrote: every month rebuilt, only the response rate
    (and the composite made with it) changed; the facts those the deadlines gave, the callbacks' figures as they
    were."""
    assert "响应率 now counts dispatches signed within their deadline" in out
    assert "sign deadlines kept on the dispatch events written before" in out
    for period in periods:
        assert f"{period}: " in out and "facts written" in out
    changed = [line for line in out.splitlines() if "changed:" in line]
    assert changed and all("响应率" in line for line in changed), out
    assert not any(word in line for line in changed for word in ("解决率", "满意率", "联系率")), \
        "only the response rate's definition changed"
    engine = make_engine(settings.effective_database_url)
    try:
        assert _facts(engine) == facts
        after = _figures(engine, settings, periods)
        assert after == figures
        assert any(response is not None and response < 1 for response, *_ in after.values())
    finally:
        engine.dispose()


def test_upgrading_from_0010_rebuilds_every_month_and_says_what_changed(old_demo):
    env, settings, periods, facts, figures = old_demo
    out = jiesu(env, "db", "upgrade")
    assert "schema at 0017" in out
    _caught_up(out, periods, settings, facts, figures)
    assert "响应率 now counts" not in jiesu(env, "db", "upgrade"), "once: a second upgrade has nothing to do"


def test_restoring_a_backup_from_0010_catches_up_the_same_way(old_demo, tmp_path):
    env, settings, periods, facts, figures = old_demo
    backup = tmp_path / "old.backup"
    jiesu(env, "backup", str(backup))
    fresh = {**env, "JIESU_DATABASE_URL": f"sqlite:///{tmp_path / 'restored.db'}"}
    out = jiesu(fresh, "restore", str(backup))
    assert "schema at 0017" in out
    _caught_up(out, periods, Settings(var_dir=settings.var_dir, database_url=fresh["JIESU_DATABASE_URL"]), facts,
               figures)
