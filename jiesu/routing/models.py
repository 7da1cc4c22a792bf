"""The routing rules table: which unit a category gets in an area, edited by administrators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jiesu.db import Base, UTCDateTime


class RoutingRule(Base):
    """(category, area) → main unit and co-units. `main` and each co-unit is a unit code or a symbol
    resolved against the request's place: @street, @community, @district, @branch:<department key>."""

    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("category_scope", "area_code", name="uq_routing_rules_scope_area"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_scope: Mapped[str] = mapped_column(String(32))  # a dotted category code (or its prefix), or "*"
    area_code: Mapped[str | None] = mapped_column(String(32))  # a district or street code; None: anywhere
    main: Mapped[str] = mapped_column(String(64))
    co_units: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of targets
    note: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
