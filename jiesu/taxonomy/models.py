from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu import glossary
from jiesu.db import Base, UTCDateTime
from jiesu.taxonomy.rules import ReplyUnit


class RequestType(StrEnum):
    inquiry = "inquiry"  # 咨询
    help = "help"  # 求助
    complaint = "complaint"  # 投诉
    report = "report"  # 举报
    suggestion = "suggestion"  # 建议
    praise = "praise"  # 表扬


REQUEST_TYPE_LABELS = glossary.labels("request_type", RequestType)


class Urgency(StrEnum):
    emergency = "emergency"  # 紧急: a flooded road, a gas smell
    normal = "normal"  # 一般
    complex = "complex"  # 疑难复杂: needs several units or long works


URGENCY_LABELS = glossary.labels("urgency", Urgency)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Dotted and stable: 01, 01.02, 01.02.003. Names alone are not keys: 其他 occurs under many parents.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    path: Mapped[str] = mapped_column(String(256), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Category | None] = relationship(remote_side=[id], lazy="raise")


DEFAULT_SCOPE = "*"


class DeadlinePolicy(Base):
    """How fast a ticket of one category and urgency must move. The most specific scope wins:
    the category itself, then its ancestors, then the default scope '*'."""

    __tablename__ = "deadline_policies"
    __table_args__ = (UniqueConstraint("scope", "urgency", name="uq_deadline_policies_scope_urgency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), index=True)  # a category code, or '*'
    urgency: Mapped[Urgency] = mapped_column(Enum(Urgency, native_enum=False, length=16))
    dispatch_within_hours: Mapped[float] = mapped_column(Float)
    sign_within_hours: Mapped[float] = mapped_column(Float)
    reply_within: Mapped[float] = mapped_column(Float)
    reply_unit: Mapped[ReplyUnit] = mapped_column(Enum(ReplyUnit, native_enum=False, length=16))
    note: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64), default="")
