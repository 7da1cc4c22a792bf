"""Intake: every way a request comes in (the API, the operator's console, Open311, a direct answer from the
knowledge base) ends here, and here smart dispatch is asked before the ticket is written.

Intake sits above routing and tickets and calls them downward: tickets.store writes the rows, routing.suggest
makes the suggestion. Neither knows of the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import InvalidInput
from jiesu.knowledge import service as knowledge
from jiesu.knowledge.models import DirectAnswer
from jiesu.permissions import Actor, Permission, Role, require
from jiesu.routing import service as routing
from jiesu.routing.service import Suggestion
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import store
from jiesu.tickets.models import Channel
from jiesu.tickets.store import Intake, NewRequest

# Who filed a request through Open311: the client system's actor is named `open311:<client>` (open311.actor_for;
# a user's name cannot hold a colon).
OPEN311_PREFIX = "open311:"
# The channels a sender may say its request came by, and the one it gets when it says none. The channel is the
# server's to know, not the sender's to claim: Open311 is its clients' only, the history import's (`import`) is
# the importer's own (it writes its rows itself, never through here), and a citizen files from the app or the
# website, never as a hotline call.
CITIZEN_CHANNELS = (Channel.app, Channel.web)
STAFF_CHANNELS = (Channel.hotline, Channel.app, Channel.web)
# A citizen's urgency is a request the dispatcher confirms at dispatch: the ticket's deadlines stay those of an
# ordinary one until then. The centre's staff decide it at intake (the operator on the phone), and so does an
# Open311 request, whose urgency is the city's service definition's (an answer its catalogue counts as an
# emergency: open311.catalog), not a field the client sets.
ASKS_FOR_URGENCY = frozenset({Role.citizen})


def is_open311(actor: Actor) -> bool:
    return actor.username.startswith(OPEN311_PREFIX)


def channel_for(actor: Actor, claimed: Channel | None) -> Channel:
    """The channel a request from `actor` came by: Open311 for an Open311 client, else the app for a citizen and
    the hotline for the centre's staff, or the one claimed when it is among theirs (InvalidInput on `channel`
    otherwise: a citizen cannot claim `import` or `open311`)."""
    if is_open311(actor):
        allowed: tuple[Channel, ...] = (Channel.open311,)
    elif actor.role == Role.citizen:
        allowed = CITIZEN_CHANNELS
    else:
        allowed = STAFF_CHANNELS
    if claimed is None:
        return allowed[0]
    if claimed not in allowed:
        raise InvalidInput(f"channel is set by the server: a request from you comes by "
                           f"{' or '.join(c.value for c in allowed)}, not {claimed.value}", field="channel")
    return claimed


def as_received(actor: Actor, new: NewRequest) -> NewRequest:
    """The request as intake takes it from `actor`: the channel the server knows it came by, and an urgency that
    is not the sender's to decide kept as asked for only (NewRequest.requested_urgency)."""
    new = replace(new, channel=channel_for(actor, new.channel))
    if new.urgency != Urgency.normal and actor.role in ASKS_FOR_URGENCY:
        new = replace(new, urgency=Urgency.normal, requested_urgency=new.urgency)
    return new


@dataclass
class SuggestedIntake:
    intake: Intake
    suggestion: Suggestion | None


def create_request(session: Session, actor: Actor, clock: Clock, settings: Settings, new: NewRequest,
                   idempotency_key: str | None = None, *, now: bool = True, commit: bool = False) -> SuggestedIntake:
    """Intake with smart dispatch: the ticket is created with the suggestion on it (and on its create
    event); an inquiry answered at once gets none. A replayed Idempotency-Key returns the first ticket
    with the suggestion it got then.

    `now=False` acknowledges the ticket first and leaves the suggestion to the worker (suggest_pending),
    which makes it within a second or so: intake then costs its INSERTs only, a few times less CPU. `commit`:
    as tickets.store.create_request (the intake is the caller's whole unit of work)."""
    # What the sender sent, before intake adds to it (the place the suggestion resolves): a retry's must match.
    sent = store.fingerprint(new) if idempotency_key is not None else None
    new = as_received(actor, new)
    if not now or new.direct_answer is not None:
        intake = store.create_request(session, actor, clock, settings, new, idempotency_key,
                                      suggest_later=new.direct_answer is None, commit=commit, sent=sent)
        return SuggestedIntake(intake, routing.stored_suggestion(intake.ticket) if intake.replayed else None)
    # The key and the fields first: a retry, or a request that would be refused, costs no suggestion.
    seen = store.check(session, actor, new, idempotency_key, sent)
    if seen is not None:
        return SuggestedIntake(seen, routing.stored_suggestion(seen.ticket))
    # Made for the dispatcher, whoever files the request (a citizen may not see suggestions).
    s = routing.make_suggestion(session, clock, settings, text=new.text, title=new.title, address=new.address,
                        area_code=new.area_code, lng=new.lng, lat=new.lat, phone=new.contact_phone,
                        category_code=new.category_code)
    place = s.place or {}
    resolved = place.get("community_code") or place.get("street_code")
    if new.area_code is None and new.lng is None and resolved and not place.get("ambiguous"):
        # The request's area is the place its address names, when that is certain; else the dispatcher's.
        new = replace(new, area_code=resolved)
    intake = store.create_request(session, actor, clock, settings, replace(new, terms=s.terms), idempotency_key,
                                  suggestion=(s.to_dict(), s.brief()), commit=commit, sent=sent)
    if intake.replayed:  # a twin's INSERT won meanwhile: its answer, with the suggestion it got
        return SuggestedIntake(intake, routing.stored_suggestion(intake.ticket))
    return SuggestedIntake(intake, s)


# --- direct answers ----------------------------------------------------------------------------------

@dataclass
class AnswerInput:
    """An inquiry (咨询) the operator answers at once: the caller's text and the answer given."""

    text: str
    answer: str | None = None  # none: the article's answer as it stands
    article_id: int | None = None
    title: str = ""
    address: str = ""
    area_code: str | None = None
    category_code: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    anonymous: bool = False
    channel: Channel | None = None  # none: the server's (channel_for)


@dataclass
class Answered:
    intake: Intake
    record: DirectAnswer


def answer_directly(session: Session, actor: Actor, clock: Clock, settings: Settings, data: AnswerInput,
           idempotency_key: str | None = None) -> Answered:
    """Close an inquiry with a direct answer (直接答复): a request with outcome direct_answer and no ticket,
    and which article answered it. The article must be live; the operator may adapt its answer."""
    require(actor, Permission.knowledge_answer)
    article = knowledge.live_article(session, clock, settings, data.article_id) if data.article_id is not None else None
    given = (data.answer or "").strip() or (article.answer if article else "")
    if not given:
        raise InvalidInput("give the answer, or the article it comes from", field="answer")
    category = data.category_code or (article.category.code if article and article.category else None)
    new = NewRequest(text=data.text, request_type=RequestType.inquiry, channel=channel_for(actor, data.channel),
                             title=data.title, address=data.address, area_code=data.area_code,
                             contact_name=data.contact_name, contact_phone=data.contact_phone,
                             anonymous=data.anonymous, category_code=category, direct_answer=given)
    # The fingerprint of what the operator sent (the article and the answer as given, not as resolved).
    sent = store.fingerprint(data) if idempotency_key is not None else None
    intake = store.create_request(session, actor, clock, settings, new, idempotency_key, sent=sent)
    if intake.replayed:
        record = session.scalar(select(DirectAnswer).where(DirectAnswer.request_id == intake.request.id))
        if record is not None:
            return Answered(intake, record)
    record = DirectAnswer(request_id=intake.request.id, article=article,
                          edited=article is not None and given != article.answer.strip(), at=clock.now(),
                          by=actor.username)
    session.add(record)
    session.flush()
    return Answered(intake, record)
