"""The assessment's own tables: what each ticket counts for in a period (its callback; its signing), and the
rollup of closed periods.

All are derived: `jiesu assess rebuild` recomputes them from the callbacks and the event log, and a test
checks that the ranking read from them equals the ranking computed from the callbacks directly.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jiesu.assessment.rules import SignStatus
from jiesu.db import Base, UTCDateTime


class FactKind(StrEnum):
    callback = "callback"  # a reached callback: counts in the rates (unless its category is excluded)
    unreachable = "unreachable"  # 未联系上: the round ended without reaching the citizen; not a valid callback
    upheld_return = "upheld_return"  # 退单审核通过: ruled not this unit's ticket; left out of its rates
    # The response rate's cells (rules.sign_kind): how the period's dispatches to a unit stood when summed.
    sign_on_time = "sign_on_time"  # signed within the sign deadline
    sign_late = "sign_late"  # signed after it
    sign_missed = "sign_missed"  # not signed, the deadline passed
    sign_pending = "sign_pending"  # not signed, the deadline still ahead: not counted yet
    sign_void = "sign_void"  # merged or withdrawn before its deadline, unsigned: not counted
    sign_returned = "sign_returned"  # returned within its deadline, the centre not ruled yet: not counted yet
    sign_upheld = "sign_upheld"  # returned, and the return upheld: not counted against the unit


class RateFact(Base):
    """What one ticket counts for one unit in one assessment period: its last callback there (a ticket
    called back twice in a month, reopened in between, counts once, with its last answers)."""

    __tablename__ = "rate_facts"
    __table_args__ = (UniqueConstraint("period", "ticket_id", "unit_id", name="uq_rate_facts_period_ticket_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))  # 2023-03: the assessment month
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[FactKind] = mapped_column(Enum(FactKind, native_enum=False, length=16))
    district_code: Mapped[str | None] = mapped_column(String(32))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    contacted: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution: Mapped[int] = mapped_column(Integer, default=0)  # 2 resolved, 1 partly, 0 not
    satisfaction: Mapped[int] = mapped_column(Integer, default=0)  # 2 satisfied, 1 basically, 0 not


Index("ix_rate_facts_period_unit", RateFact.period, RateFact.unit_id)


class SignFact(Base):
    """One unit's hold of one ticket, from the dispatch that sent it there (rules.Spell), in the period of that
    dispatch: what the response rate (响应率) counts. A ticket dispatched twice to one unit in a period (sent
    on, then back) counts once there, as it last stood."""

    __tablename__ = "sign_facts"
    __table_args__ = (UniqueConstraint("period", "ticket_id", "unit_id", name="uq_sign_facts_period_ticket_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    district_code: Mapped[str | None] = mapped_column(String(32))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sign_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[SignStatus] = mapped_column(Enum(SignStatus, native_enum=False, length=16))

    @property
    def at(self) -> datetime:  # when it counts from: beside RateFact.at in a drill-down
        return self.dispatched_at


Index("ix_sign_facts_period_unit", SignFact.period, SignFact.unit_id)


class RateCell(Base):
    """The rollup of a closed period: counts per unit, district, category and kind (a sign_* kind counts
    dispatches in `tickets`, its other counts 0)."""

    __tablename__ = "rate_cells"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    district_code: Mapped[str | None] = mapped_column(String(32))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    kind: Mapped[FactKind] = mapped_column(Enum(FactKind, native_enum=False, length=16))
    tickets: Mapped[int] = mapped_column(Integer)
    contacted: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    partly: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    basically: Mapped[int] = mapped_column(Integer)


class RateRollup(Base):
    """That a period's cells exist, and how many facts they were built from."""

    __tablename__ = "rate_rollups"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    facts: Mapped[int] = mapped_column(Integer)
