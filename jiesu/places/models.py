from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu.db import Base


class AreaLevel(StrEnum):
    city = "city"
    district = "district"
    street = "street"  # 街道 / 镇 / 乡 / 地区 / 其他: the township level
    community = "community"  # 社区 / 村 and their look-alikes
    complex = "complex"  # 小区: a residential complex, registered by the city, not in the NBS codes


LEVEL_ORDER = {AreaLevel.city: 0, AreaLevel.district: 1, AreaLevel.street: 2, AreaLevel.community: 3,
               AreaLevel.complex: 4}


class Area(Base):
    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    short_name: Mapped[str] = mapped_column(String(128), index=True)
    level: Mapped[AreaLevel] = mapped_column(Enum(AreaLevel, native_enum=False, length=16), index=True)
    # The NBS kind: 街道, 镇, 乡, 地区, 其他, 社区, 村, 类似居委会, 类似村委会, 小区 ...
    kind: Mapped[str] = mapped_column(String(16), default="")
    # Formal name at the Ministry of Civil Affairs where it differs (南磨房地区 -> 南磨房乡).
    formal_name: Mapped[str | None] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    # Denormalised ancestors: every lookup shows the full path and filters by district cheaply.
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    street_code: Mapped[str | None] = mapped_column(String(32), index=True)
    path: Mapped[str] = mapped_column(String(512))
    center_lng: Mapped[float | None] = mapped_column(Float)
    center_lat: Mapped[float | None] = mapped_column(Float)

    parent: Mapped[Area | None] = relationship(remote_side=[id], lazy="raise")
    aliases: Mapped[list[AreaAlias]] = relationship(back_populates="area", cascade="all, delete-orphan", lazy="raise")

    def __repr__(self) -> str:
        return f"<Area {self.code} {self.path}>"


class AreaAlias(Base):
    """Another name people use for an area: 广外南里 for 广渠门外南里社区, 南磨房乡 for 南磨房地区."""

    __tablename__ = "area_aliases"
    __table_args__ = (UniqueConstraint("area_id", "alias", name="uq_area_aliases_area_alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(128), index=True)
    # generated (from name rules), formal (MCA name), or manual (entered by an administrator)
    source: Mapped[str] = mapped_column(String(16), default="generated")

    area: Mapped[Area] = relationship(back_populates="aliases", lazy="raise")


class AreaBoundary(Base):
    """A polygon for an area, kept as GeoJSON text with its bounding box for a cheap first filter."""

    __tablename__ = "area_boundaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), unique=True)
    crs: Mapped[str] = mapped_column(String(16))  # GCJ-02 for the shipped Beijing districts
    geojson: Mapped[str] = mapped_column(Text)
    min_lng: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lng: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)


Index("ix_areas_level_district", Area.level, Area.district_code)
