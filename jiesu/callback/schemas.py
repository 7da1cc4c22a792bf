"""What crosses HTTP for the callback desk and the citizen's survey."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from jiesu.callback import service
from jiesu.callback.models import Callback, CallbackChannel, Resolution, Satisfaction
from jiesu.limits import MAX_REASON
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Ticket
from jiesu.tickets.rules import STATE_LABELS, TicketState
from jiesu.tickets.schemas import ContactOut

EXCERPT = 80


def excerpt(text: str | None, width: int = EXCERPT) -> str:
    text = (text or "").strip()
    return text if len(text) <= width else text[:width] + "…"


def reply_text(ticket: Ticket) -> str:
    """The unit's last reply to the citizen, as written on the reply event."""
    replies = [e for e in ticket.events if e.action == "reply"]
    return max(replies, key=lambda e: e.seq).reason if replies else ""


class CallbackIn(BaseModel):
    """What the callback agent records. A reached citizen answers all three questions; an unreached one
    (`reached: false`) needs none: after the configured attempts the round ends as 未联系上."""

    reached: StrictBool = Field(default=True, description="the citizen was reached")
    contacted: StrictBool | None = Field(default=None, description="响应: the unit got in touch with the citizen")
    resolution: Resolution | None = Field(default=None, description="解决: resolved, partly, unresolved")
    satisfaction: Satisfaction | None = Field(default=None, description="满意: satisfied, basically, unsatisfied")
    comment: str = Field(default="", max_length=MAX_REASON)

    def to_answer(self) -> service.Answer:
        return service.Answer(reached=self.reached, contacted=self.contacted, resolution=self.resolution,
                              satisfaction=self.satisfaction, comment=self.comment)


class SurveyIn(BaseModel):
    """The citizen's own answers (app or web link): all three questions, and a comment if they like."""

    contacted: StrictBool = Field(description="响应: the unit got in touch with you")
    resolution: Resolution = Field(description="解决: resolved, partly, unresolved")
    satisfaction: Satisfaction = Field(description="满意: satisfied, basically, unsatisfied")
    comment: str = Field(default="", max_length=MAX_REASON)

    def to_answer(self) -> service.Answer:
        return service.Answer(reached=True, contacted=self.contacted, resolution=self.resolution,
                              satisfaction=self.satisfaction, comment=self.comment)


class CallbackOut(BaseModel):
    id: int
    round: int = Field(description="0 for the first reply, n after the n-th reopening")
    attempt: int = Field(description="1, 2, 3 ... within the round")
    at: datetime
    agent: str
    channel: CallbackChannel
    unit_code: str | None = Field(description="the unit the answers judge: the main unit at the time")
    reached: bool
    contacted: bool | None
    resolution: Resolution | None
    satisfaction: Satisfaction | None
    comment: str

    @classmethod
    def of(cls, cb: Callback, unit_code: str | None = None) -> CallbackOut:
        return cls(id=cb.id, round=cb.round, attempt=cb.attempt, at=cb.at, agent=cb.agent, channel=cb.channel,
                   unit_code=unit_code, reached=cb.reached, contacted=cb.contacted, resolution=cb.resolution,
                   satisfaction=cb.satisfaction, comment=cb.comment)


class TicketStateOut(BaseModel):
    number: str
    state: TicketState
    state_label: str
    reopened: int
    reply_by: datetime | None = Field(description="after a reopening: the unit's new reply deadline")
    version: int


class OutcomeOut(BaseModel):
    result: Literal["closed", "reopened", "retry", "unreachable"] = Field(
        description="closed: answered, done; reopened: not resolved, back to the same unit (重办); retry: not "
                    "reached, call again; unreachable: not reached after the last attempt, closed (未联系上)")
    callback: CallbackOut
    ticket: TicketStateOut

    @classmethod
    def of(cls, out: service.Outcome) -> OutcomeOut:
        t = out.ticket
        unit_code = t.main_unit.code if t.main_unit is not None and t.main_unit_id == out.callback.unit_id else None
        return cls(result=out.result, callback=CallbackOut.of(out.callback, unit_code),
                   ticket=TicketStateOut(number=t.number, state=t.state, state_label=STATE_LABELS[t.state],
                                         reopened=t.reopened, reply_by=t.reply_by, version=t.version))


class QueueItemOut(BaseModel):
    number: str
    title: str
    excerpt: str = Field(description="the start of the citizen's text")
    unit_code: str | None
    unit_name: str | None
    district_code: str | None
    category_path: str | None
    replied_at: datetime | None
    round: int = Field(description="how many times the ticket was reopened before this reply")
    attempts: int = Field(description="attempts already made in this round")
    last_attempt_at: datetime | None
    contact: ContactOut | None = Field(description="masked; GET /api/v1/tickets/{number}/contact reads it "
                                       "unmasked (logged)")

    @classmethod
    def of(cls, item: service.QueueItem) -> QueueItemOut:
        t, r = item.ticket, item.ticket.request
        contact = None
        if r.contact is not None:
            contact = ContactOut(name=tickets.mask_name(r.contact.name), phone=tickets.mask_phone(r.contact.phone),
                                 masked=True)
        return cls(number=t.number, title=r.title, excerpt=excerpt(r.text), unit_code=t.main_unit.code
                   if t.main_unit else None, unit_name=t.main_unit.name if t.main_unit else None,
                   district_code=t.district_code, category_path=t.category.path if t.category else None,
                   replied_at=t.replied_at, round=t.reopened, attempts=item.attempts,
                   last_attempt_at=item.last_attempt_at, contact=contact)


class QueuePage(BaseModel):
    total: int
    limit: int
    offset: int
    max_attempts: int = Field(description="attempts before a round ends as 未联系上 (the setting)")
    items: list[QueueItemOut]


class SurveyOut(BaseModel):
    """What the citizen sees behind a survey link: their request and the unit's reply, nothing personal."""

    number: str
    excerpt: str = Field(description="the start of the request's text")
    unit_name: str | None
    replied_at: datetime | None
    reply: str = Field(description="the unit's reply to the citizen")

    @classmethod
    def of(cls, t: Ticket) -> SurveyOut:
        return cls(number=t.number, excerpt=excerpt(t.request.text, 200),
                   unit_name=t.main_unit.name if t.main_unit else None, replied_at=t.replied_at,
                   reply=reply_text(t))
