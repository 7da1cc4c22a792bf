from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu import glossary
from jiesu.db import Base, UTCDateTime
from jiesu.tickets.models import Ticket


class Resolution(StrEnum):
    resolved = "resolved"  # 已解决
    partly = "partly"  # 部分解决
    unresolved = "unresolved"  # 未解决


class Satisfaction(StrEnum):
    satisfied = "satisfied"  # 满意
    basically = "basically"  # 基本满意
    unsatisfied = "unsatisfied"  # 不满意


class CallbackChannel(StrEnum):
    phone = "phone"  # a callback agent called
    survey = "survey"  # the citizen answered the survey link (app or web)
    import_ = "import"  # brought with a historical ticket


RESOLUTION_LABELS = glossary.labels("resolution", Resolution)
SATISFACTION_LABELS = glossary.labels("satisfaction", Satisfaction)
CHANNEL_LABELS = glossary.labels("callback_channel", CallbackChannel)


class Callback(Base):
    """回访: one attempt to reach the citizen after a reply and, when reached, the answers. A round is one
    reply: a reopened ticket is called back again in its next round. Append-only."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer, default=0)  # ticket.reopened when the attempt was made
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # 1, 2, 3 ... within the round
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    agent: Mapped[str] = mapped_column(String(64))
    channel: Mapped[CallbackChannel] = mapped_column(Enum(CallbackChannel, native_enum=False, length=16))
    # The unit the answers judge: the ticket's main unit when the callback was made.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    reached: Mapped[bool] = mapped_column(Boolean)
    contacted: Mapped[bool | None] = mapped_column(Boolean)  # 响应: did the unit get in touch with the citizen
    resolution: Mapped[Resolution | None] = mapped_column(Enum(Resolution, native_enum=False, length=16))
    satisfaction: Mapped[Satisfaction | None] = mapped_column(Enum(Satisfaction, native_enum=False, length=16))
    comment: Mapped[str] = mapped_column(Text, default="")

    ticket: Mapped[Ticket] = relationship(lazy="raise")


Index("ix_callbacks_ticket_round", Callback.ticket_id, Callback.round)
