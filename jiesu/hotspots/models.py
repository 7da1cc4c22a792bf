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
from jiesu.hotspots.rules import HotSpotLabel, HotSpotStatus, SurgeStatus
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category

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
