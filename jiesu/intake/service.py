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
from jiesu.permissions import Actor, Permission, require
from jiesu.routing import service as routing
from jiesu.routing.service import Suggestion
from jiesu.taxonomy.models import RequestType
from jiesu.tickets import store
from jiesu.tickets.models import Channel
from jiesu.tickets.store import Intake, NewRequest


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
    channel: Channel = Channel.hotline


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
    new = NewRequest(text=data.text, request_type=RequestType.inquiry, channel=data.channel,
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
