"""Proactive governance's rows for a test's small city, where mining a few dozen tickets finds nothing: a hot spot
and a surge at a street as the miner keeps them (with a ticket linked, when given), a project made from the hot
spot and a topic of the month, through their service. Returns their ids by the path parameter that names them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.hotspots import projects
from jiesu.hotspots.models import HotSpot, HotSpotTicket, Surge, SurgeTicket
from jiesu.hotspots.rules import HotSpotLabel, HotSpotStatus, SurgeStatus
from jiesu.permissions import SYSTEM
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category

LEAD = "cgw"  # a city department (委办局): a topic's lead must be one


def make_governance(s: Session, clock: Clock, settings: Settings, street_code: str,
                    ticket_id: int | None = None) -> dict[str, int]:
    street = s.scalar(select(Area).where(Area.code == street_code))
    root, second = s.scalars(select(Category).where(Category.level == 1).order_by(Category.code).limit(2)).all()
    now = clock.now()
    place = dict(area_id=street.id, place_code=street_code, level="street", district_code=street.district_code or "",
                 street_code=street_code, category_id=root.id, title="堆放 · 消防通道", updated_at=now)
    spot = HotSpot(**place, status=HotSpotStatus.open, label=HotSpotLabel.new,
                   first_day=(now - timedelta(days=14)).date(), last_day=now.date(), found_at=now, last_seen=now,
                   observed=9, expected=1.5, tickets=1 if ticket_id else 0)
    surge = Surge(**place, status=SurgeStatus.raised, observed=6, expected=0.4, p_value=1e-6, window_hours=3,
                  first_at=now - timedelta(hours=3), last_at=now, raised_at=now, tickets=1 if ticket_id else 0)
    s.add_all([spot, surge])
    s.flush()
    if ticket_id is not None:
        s.add_all([HotSpotTicket(hotspot_id=spot.id, ticket_id=ticket_id),
                   SurgeTicket(surge_id=surge.id, ticket_id=ticket_id)])
    # a second hot spot, left open: the first becomes the project's
    other = HotSpot(**(place | {"title": "噪音 · 施工", "category_id": second.id}), status=HotSpotStatus.open,
                    label=HotSpotLabel.persistent,
                    first_day=(now - timedelta(days=60)).date(), last_day=now.date(), found_at=now, last_seen=now,
                    observed=20, expected=5.0)
    s.add(other)
    project = projects.create_project(s, SYSTEM, clock, settings, projects.NewProject(
        owner=street_code, title="首座御园消防通道整治", hotspot_id=spot.id, plan="清理楼道堆物",
        started_on=now.date()))
    topic = projects.adopt(s, SYSTEM, clock, settings, month=now.strftime("%Y-%m"), category=root.code,
                           keywords=["堆放"], lead=LEAD, units=[street_code])
    s.flush()
    return {"hotspot_id": other.id, "surge_id": surge.id, "project_id": project.id, "topic_id": topic.id}
