"""Imports every capability's tables so that Base.metadata is complete (Alembic, tests)."""

from jiesu.assessment.models import RateCell, RateFact, RateRollup, SignFact
from jiesu.audit.models import AuditEntry
from jiesu.calendar.models import CalendarOverride
from jiesu.callback.models import Callback
from jiesu.db import Base
from jiesu.hotspots.models import (
    HotSpot,
    HotSpotEvent,
    HotSpotRun,
    HotSpotTicket,
    Project,
    ProjectEvent,
    ProjectMilestone,
    ProjectTicket,
    ProjectUpdate,
    Surge,
    SurgeTicket,
    Topic,
    TopicUnit,
)
from jiesu.knowledge.models import Article, DirectAnswer, Term, is_schema_extra
from jiesu.open311.models import ApiKey, Open311Submission
from jiesu.places.models import Area, AreaAlias, AreaBoundary
from jiesu.public.models import PublicFigure, PublicMonth, PublicReply
from jiesu.routing.models import RoutingRule
from jiesu.taxonomy.models import Category, DeadlinePolicy
from jiesu.tickets.models import (
    Attachment,
    Contact,
    PersonalDataAccess,
    Request,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketFollower,
    TicketUnit,
)
from jiesu.units.models import ApiToken, PhoneCode, PhoneCodeSends, Unit, User

__all__ = ["Base", "Area", "AreaAlias", "AreaBoundary", "Unit", "User", "ApiToken", "Category",
           "DeadlinePolicy", "CalendarOverride", "Contact", "Request", "Ticket", "TicketUnit", "TicketEvent",
           "PersonalDataAccess", "TicketCounter", "Attachment", "RoutingRule", "Callback",
           "RateFact", "RateCell", "RateRollup", "SignFact", "AuditEntry", "ApiKey", "Open311Submission",
           "Article", "Term", "DirectAnswer", "TicketFollower", "PhoneCode", "PhoneCodeSends", "PublicMonth",
           "PublicFigure", "PublicReply", "HotSpot", "HotSpotTicket", "Surge", "SurgeTicket", "HotSpotEvent",
           "HotSpotRun", "Topic", "TopicUnit", "Project", "ProjectMilestone", "ProjectUpdate", "ProjectTicket",
           "ProjectEvent"]


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's filter for the schema check and autogenerate: every reflected object but the full-text
    indexes made by hand in the migrations (they are not drift)."""
    return not is_schema_extra(name, type_)

