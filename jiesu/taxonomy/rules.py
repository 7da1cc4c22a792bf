"""Deadline maths from a policy and a business calendar: pure, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from jiesu.calendar.rules import BusinessCalendar


class ReplyUnit(StrEnum):
    hours = "hours"  # clock hours, around the clock
    business_days = "business_days"  # business days of the unit's calendar


class PolicyLike(Protocol):
    dispatch_within_hours: float
    sign_within_hours: float
    reply_within: float
    reply_unit: ReplyUnit


@dataclass(frozen=True)
class Deadlines:
    dispatch_by: datetime
    sign_by: datetime
    reply_by: datetime


def deadlines(policy: PolicyLike, calendar: BusinessCalendar, created_at: datetime,
              dispatched_at: datetime | None = None) -> Deadlines:
    """Dispatch runs from creation; sign and reply run from the dispatch, because a unit's time starts
    when the ticket reaches it. Before the dispatch, the latest allowed dispatch stands in, so the
    deadlines always come in order: dispatch <= sign <= reply. Dispatch and sign run on clock hours (the
    centre and the units are on duty around the clock); the reply on clock hours for emergencies and
    utilities, on the unit's business days otherwise."""
    if created_at.tzinfo is None or (dispatched_at is not None and dispatched_at.tzinfo is None):
        raise ValueError("created_at and dispatched_at must be timezone-aware")
    dispatch_by = created_at + timedelta(hours=policy.dispatch_within_hours)
    start = dispatched_at or dispatch_by
    sign_by = start + timedelta(hours=policy.sign_within_hours)
    if policy.reply_unit == ReplyUnit.hours:
        reply_by = start + timedelta(hours=policy.reply_within)
    else:
        reply_by = calendar.add_business_days(start, policy.reply_within)
    return Deadlines(dispatch_by=dispatch_by, sign_by=sign_by, reply_by=reply_by)
