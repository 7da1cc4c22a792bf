"""`make demo` shows issue 18's story (jiesu/demo/story.py, govern.py): on a copy of the session's demo city (the real
`jiesu demo seed`), 天堂河's hot spot is a renovation project with the brief's works and a measured fall, a burst
main waits for the supervisor as a raised surge, 观音寺街道's handler sees the open hot spot of its own area, and
this month's topic is adopted."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.clock import SystemClock
from jiesu.config import Settings
from jiesu.db import make_engine
from jiesu.demo.story import SURGE_STREET, TIANGONGYUAN, TIANTANGHE
from jiesu.hotspots import projects
from jiesu.hotspots import service as hotspots
from jiesu.hotspots.models import HotSpot
from jiesu.permissions import SYSTEM
from jiesu.units import users
from tests.served import copy_demo


@pytest.fixture(scope="module")
def demo(request, tmp_path_factory):
    var = copy_demo(request.getfixturevalue("demo_var"), tmp_path_factory.mktemp("demo-story"), "story.db")
    settings = Settings(var_dir=var, database_url=f"sqlite:///{var / 'story.db'}")
    engine = make_engine(settings.effective_database_url)
    with Session(engine) as s:
        yield s, settings
    engine.dispose()


def login(session: Session, username: str):
    return users.actor_of(users.get(session, SYSTEM, username))


def test_tiantanghe_is_a_project_whose_calls_fell(demo):
    session, settings = demo
    supervisor = login(session, "supervisor")
    spot = session.scalar(select(HotSpot).where(HotSpot.place_code == TIANTANGHE))
    assert spot is not None and spot.status.value == "project"
    project = next(p for p in projects.list_projects(session, supervisor) if p.hotspot_id == spot.id)
    view = projects.project_detail(session, supervisor, settings, project.id)
    assert project.status.value == "underway" and project.owner_unit.code == TIANGONGYUAN
    titles = " ".join(m.title for m in view.milestones)
    for works in ("外墙保温", "5.2万平方米", "楼顶防水", "1.7万平方米", "道路修整", "1.3万平方米", "新增路灯", "181盏"):
        assert works in titles + project.plan, works
    assert view.updates and any(m.done_on for m in view.milestones)
    report = projects.effect(session, supervisor, settings, SystemClock(), project.id)
    assert report.effect is not None and report.effect.effect < 0 and report.comparison, report.note


def test_the_surge_waits_for_the_supervisor(demo):
    session, _settings = demo
    raised = hotspots.list_surges(session, login(session, "supervisor"), status="raised").rows
    assert any(r.spot.street_code == SURGE_STREET or r.spot.place_code == SURGE_STREET for r in raised), raised


def test_the_street_sees_its_own_hot_spot_and_the_topic_is_adopted(demo):
    session, _settings = demo
    mine = hotspots.list_hotspots(session, login(session, "guanyinsi"), status="open").rows
    assert mine and all(r.spot.street_code == SURGE_STREET for r in mine)
    topics = projects.list_topics(session, login(session, "supervisor"))
    assert any(t.title == "电动自行车充电难" and t.status.value == "adopted" for t in topics)
