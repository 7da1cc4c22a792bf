from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Enum, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jiesu.db import Base, UTCDateTime


class DayKind(StrEnum):
    holiday = "holiday"  # a day off, even if it is a weekday
    workday = "workday"  # a working day, even if it is a weekend (调休上班)


class CalendarOverride(Base):
    """One date an administrator has ruled on, e.g. from the State Council's holiday notice."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (UniqueConstraint("calendar", "day", name="uq_calendar_overrides_calendar_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar: Mapped[str] = mapped_column(String(32), default="default")
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[DayKind] = mapped_column(Enum(DayKind, native_enum=False, length=16))
    name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64), default="")
