"""The public page's own tables: per closed month, what it shows of each place (the city, a district, a
street), computed once when the month closes; and the latest replies, masked, refreshed by the clock.

All derived: `jiesu public rollup --all` writes them again from the tickets and the assessment's cells.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jiesu.db import Base, UTCDateTime


class PublicMonth(Base):
    """That a closed month's figures are kept, when, and from how many tickets."""

    __tablename__ = "public_months"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    tickets: Mapped[int] = mapped_column(Integer)


class PublicFigure(Base):
    """One place's month: requests received, replied, replied by their deadline, the median time to reply
    (a median is kept per place: it cannot be summed), and the counts the three rates are made of (the
    assessment's cells of that month, summed to the place)."""

    __tablename__ = "public_figures"
    __table_args__ = (UniqueConstraint("period", "level", "key", name="uq_public_figures_period_level_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    level: Mapped[str] = mapped_column(String(16))  # city, district, street
    key: Mapped[str] = mapped_column(String(32))  # the area's code ("" for the city)
    parent: Mapped[str] = mapped_column(String(32), default="")  # the district of a street, "" otherwise
    received: Mapped[int] = mapped_column(Integer, default=0)
    replied: Mapped[int] = mapped_column(Integer, default=0)
    in_time: Mapped[int] = mapped_column(Integer, default=0)
    median_hours: Mapped[float | None] = mapped_column(Float)
    # formulas.Counts, in its order
    valid: Mapped[int] = mapped_column(Integer, default=0)
    contacted: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    partly: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    basically: Mapped[int] = mapped_column(Integer, default=0)
    signed: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)


Index("ix_public_figures_level_key", PublicFigure.level, PublicFigure.key, PublicFigure.period)
Index("ix_public_figures_parent", PublicFigure.parent, PublicFigure.period)


class PublicReply(Base):
    """One recent reply as the public page shows it: already masked; no ticket id, no person."""

    __tablename__ = "public_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, unique=True)  # the reply event it was read from
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    category: Mapped[str] = mapped_column(String(128), default="")
    district_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    street_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    street: Mapped[str] = mapped_column(String(128), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    reply: Mapped[str] = mapped_column(Text, default="")
