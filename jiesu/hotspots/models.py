"""Proactive governance's tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu.db import Base, UTCDateTime
from jiesu.hotspots.rules import ProjectStatus, TopicStatus
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category
from jiesu.units.models import Unit

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
