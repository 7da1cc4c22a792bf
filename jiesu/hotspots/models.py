"""Hot spots and surges as they are kept: what the miner found, what people decided, and each run.

A hot spot is one place × first-level category, found again and again by the nightly run: the run updates
its row (never a second one), and its status is the supervisors'. A surge is one rise within hours; the
hourly scan raises it once per cell and window. Every status change writes a HotSpotEvent in the same
transaction. The links to tickets are bounded (MAX_LINKED): a hot spot's page lists them, its count says all.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu.db import Base, UTCDateTime
from jiesu.hotspots.rules import HotSpotLabel, HotSpotStatus, ProjectStatus, SurgeStatus, TopicStatus
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category
from jiesu.units.models import Unit

MAX_LINKED = 500  # tickets linked per hot spot or surge: the newest; the page pages through them


class HotSpot(Base):
    """热点: a place × category whose volume over weeks is well above its expectation."""

    __tablename__ = "hotspots"
    __table_args__ = (UniqueConstraint("place_code", "category_id", name="uq_hotspots_place_code_category_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    place_code: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))  # community, street, district (places.AreaLevel)
    # The place's district and street (the street itself for a street), for the filters and a unit's view.
    district_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    street_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    status: Mapped[HotSpotStatus] = mapped_column(Enum(HotSpotStatus, native_enum=False, length=16), index=True)
    label: Mapped[HotSpotLabel] = mapped_column(Enum(HotSpotLabel, native_enum=False, length=16), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    p_value: Mapped[float] = mapped_column(Float, default=1.0)
    observed: Mapped[int] = mapped_column(Integer, default=0)  # tickets in the weeks it spans (repeats once)
    expected: Mapped[float] = mapped_column(Float, default=0.0)
    series: Mapped[str] = mapped_column(Text, default="[]")  # JSON: weekly counts, oldest first
    first_day: Mapped[date] = mapped_column(Date)  # local days (Asia/Shanghai) the finding spans
    last_day: Mapped[date] = mapped_column(Date)
    tickets: Mapped[int] = mapped_column(Integer, default=0)  # how many tickets it holds (links: the newest)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the first run that found it
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the last run that found it
    # Its count when it was dismissed: it comes back by itself only when it has grown markedly since.
    dismissed_observed: Mapped[int | None] = mapped_column(Integer)
    project_id: Mapped[int | None] = mapped_column(Integer)  # the project that took it on (projects, 0017)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    area: Mapped[Area] = relationship(lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}


class HotSpotTicket(Base):
    __tablename__ = "hotspot_tickets"

    hotspot_id: Mapped[int] = mapped_column(ForeignKey("hotspots.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)


class Surge(Base):
    """突发: one category rising in one area within hours, against a calendar-aware baseline."""

    __tablename__ = "surges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    place_code: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    street_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    status: Mapped[SurgeStatus] = mapped_column(Enum(SurgeStatus, native_enum=False, length=16), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    window_hours: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the window: from the start of its first hour
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())  # to the end of its last hour
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    area: Mapped[Area] = relationship(lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}


# The scan's question: is this cell's window already raised?
Index("ix_surges_place_category_last", Surge.place_code, Surge.category_id, Surge.last_at)


class SurgeTicket(Base):
    __tablename__ = "surge_tickets"

    surge_id: Mapped[int] = mapped_column(ForeignKey("surges.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)


class HotSpotEvent(Base):
    """One status change of a hot spot or a surge: who, when, from what to what, why. Append-only."""

    __tablename__ = "hotspot_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # hotspot | surge
    entity_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))  # rules.HotSpotStep / SurgeStep, or "found" / "raised"
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON


Index("ix_hotspot_events_kind_entity", HotSpotEvent.kind, HotSpotEvent.entity_id, HotSpotEvent.id)


class HotSpotRun(Base):
    """One run of the miner (kind "mine") or the surge scan ("scan"). The clock's runs are keyed by the local
    day or hour they cover, so that of two clocks only one mines; a run by hand has its own key."""

    __tablename__ = "hotspot_runs"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_hotspot_runs_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(40))  # 2026-12-08 (nightly), 2026-12-08T09 (hourly), manual:...
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    since: Mapped[date | None] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)
    tickets: Mapped[int] = mapped_column(Integer, default=0)  # tickets in the cube
    cells: Mapped[int] = mapped_column(Integer, default=0)  # rows of the GROUP BY
    found: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


# --- topics and projects ----------------------------------------------------------------------------------


class Topic(Base):
    """每月一题: a city-wide problem a supervisor adopted for a month. Its tickets are the first-level category's
    whose words hold one of its keywords (none: the whole category), from the month on."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("month", "category_id", "keywords", name="uq_topics_month_theme"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    keywords: Mapped[str] = mapped_column(String(200), default="")  # space-separated, sorted
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    status: Mapped[TopicStatus] = mapped_column(Enum(TopicStatus, native_enum=False, length=16), index=True)
    score: Mapped[float | None] = mapped_column(Float)  # the candidate's score when adopted
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    category: Mapped[Category] = relationship(lazy="raise")
    lead_unit: Mapped[Unit] = relationship(lazy="raise")
    units: Mapped[list[TopicUnit]] = relationship(back_populates="topic", order_by="TopicUnit.id", lazy="raise",
                                                  cascade="all, delete-orphan")


class TopicUnit(Base):
    """A unit the topic involves besides its lead department."""

    __tablename__ = "topic_units"
    __table_args__ = (UniqueConstraint("topic_id", "unit_id", name="uq_topic_units_topic_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)

    topic: Mapped[Topic] = relationship(back_populates="units", lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")


class Project(Base):
    """治理项目: what a unit does about a hot spot (one place, one category) or a topic (a city-wide theme).
    Its status moves only through rules.PROJECT_TRANSITIONS, each move a ProjectEvent."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    hotspot_id: Mapped[int | None] = mapped_column(ForeignKey("hotspots.id", ondelete="RESTRICT"), index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="RESTRICT"), index=True)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    # What its tickets are: a place (a hot spot's; none for a topic) and a first-level category (+ keywords).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    keywords: Mapped[str] = mapped_column(String(200), default="")
    plan: Mapped[str] = mapped_column(Text, default="")
    budget: Mapped[str] = mapped_column(Text, default="")  # a note: "市区两级财政 1200 万元"
    started_on: Mapped[date] = mapped_column(Date)
    status: Mapped[ProjectStatus] = mapped_column(Enum(ProjectStatus, native_enum=False, length=16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was cancelled
    percent: Mapped[int] = mapped_column(Integer, default=0)  # the latest update's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)

    owner_unit: Mapped[Unit] = relationship(lazy="raise")
    area: Mapped[Area | None] = relationship(lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")
    topic: Mapped[Topic | None] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}


class ProjectMilestone(Base):
    __tablename__ = "project_milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProjectUpdate(Base):
    """A progress report: what was done, how far along (percent), by whom, when. Append-only."""

    __tablename__ = "project_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    percent: Mapped[int] = mapped_column(Integer)


class ProjectTicket(Base):
    """A ticket linked to a project by hand (the place and category's own tickets are found by query)."""

    __tablename__ = "project_tickets"
    __table_args__ = (UniqueConstraint("project_id", "ticket_id", name="uq_project_tickets_project_ticket"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="RESTRICT"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by: Mapped[str] = mapped_column(String(64))


class ProjectEvent(Base):
    """One change of a project or a topic (subject: which), with who, when and why. Append-only; a status
    change writes one in its transaction."""

    __tablename__ = "project_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")


Index("ix_project_events_project", ProjectEvent.project_id, ProjectEvent.id)
Index("ix_project_events_topic", ProjectEvent.topic_id, ProjectEvent.id)
