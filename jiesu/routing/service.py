"""Smart dispatch use cases: the suggestion for a new request (jiesu.intake asks for it), the routing rules table,
and how often dispatchers followed the suggestions.

The suggestion is advice: it is stored on the ticket and on its create event, the dispatcher confirms or
corrects it when dispatching, and the dispatch event records both, so that accuracy is measured from the log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from jiesu.audit import service as audit
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.db import ReferenceCache, unit_of_work
from jiesu.errors import ConcurrentChange, InvalidInput, NotFound, TransitionNotAllowed
from jiesu.limits import MAX_NOTE
from jiesu.permissions import ANONYMOUS, SMART_DISPATCH, Actor, Permission, require
from jiesu.places import service as places
from jiesu.places.models import Area, AreaLevel
from jiesu.places.resolve import MAX_TEXT_LENGTH
from jiesu.routing import rules
from jiesu.routing.models import RoutingRule
from jiesu.routing.text import segment
from jiesu.taxonomy.models import Category, Urgency
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Contact, Request, Ticket, TicketEvent
from jiesu.tickets.rules import OPEN_STATES, Step, TicketState
from jiesu.units.models import Unit, UnitKind

log = logging.getLogger("jiesu.routing")

MANUAL_BELOW = 0.6  # a suggestion less sure than this sends the ticket to the manual queue
DUPLICATE_DAYS = 30
DUPLICATE_CANDIDATES = 60  # the newest open tickets of the same street (and the caller's own) compared


class RuleNotFound(NotFound):
    code = "rule_not_found"


@dataclass(frozen=True)
class UnitPick:
    code: str
    name: str


@dataclass
class Suggestion:
    category_code: str | None = None
    category_name: str | None = None
    category_confidence: float = 0.0
    category_alternatives: list[dict] = field(default_factory=list)
    category_reasons: list[str] = field(default_factory=list)
    place: dict | None = None  # the place resolution: codes, names, confidence, ambiguous, alternatives
    main_unit: UnitPick | None = None
    co_units: list[UnitPick] = field(default_factory=list)
    unit_reasons: list[str] = field(default_factory=list)
    urgency: Urgency = Urgency.normal
    urgency_reasons: list[str] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    confidence: float = 0.0
    manual: bool = True
    manual_reasons: list[str] = field(default_factory=list)
    model_version: str | None = None
    terms: str = field(default="", repr=False)  # the request's segmented words, kept on it (Request.terms)

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["terms"]
        return out

    def brief(self) -> dict:
        """What the create event keeps: enough to measure accuracy later."""
        return {"category": self.category_code, "unit": self.main_unit.code if self.main_unit else None,
                "co_units": [u.code for u in self.co_units], "urgency": self.urgency.value,
                "confidence": self.confidence, "manual": self.manual,
                "duplicates": [d["number"] for d in self.duplicates], "model": self.model_version}


# --- the parts -----------------------------------------------------------------------------------------

def _classify(settings: Settings, title: str, text: str,
              words: list[str]) -> tuple[object | None, str | None, str | None]:
    """(prediction, model version, why there is none)."""
    from jiesu.routing import classifier  # numpy and scipy: loaded by the first suggestion, not by every process

    try:
        model = classifier.load(settings)
    except classifier.ModelNotTrained as exc:
        return None, None, exc.message
    return model.predict_one(text, title=title, words=words), model.version, None


def _segment(text: str) -> list[str]:
    return segment(text)


# Reference rows every suggestion reads (an area's chain, the routing rules, units by code, first-level
# categories by name), kept per process for a few seconds (db.ReferenceCache): smart dispatch's worker makes
# suggestions one after another, and these lookups were a third of each. A rule changed in another process
# applies within the ttl; one changed in this process, at once (set_rule, delete_rule and seed clear it).
_REFERENCE = ReferenceCache(ttl=10)


@dataclass(frozen=True)
class AreaView:
    id: int
    code: str
    level: AreaLevel


def _area_chain(session: Session, area: Area | None) -> list[AreaView]:
    """The area and the areas above it, most specific first (community, street, district)."""
    if area is None:
        return []

    def load() -> list[AreaView]:
        chain, at = [], area
        while at is not None and at.level != AreaLevel.city:
            chain.append(AreaView(at.id, at.code, at.level))
            at = session.get(Area, at.parent_id) if at.parent_id else None
        return chain

    return _REFERENCE.get(session, ("chain", area.id), load)


def _area_by_code(session: Session, code: str) -> Area | None:
    try:
        return places.get_cached(session, ANONYMOUS, code)
    except NotFound:
        return None


def _place(session: Session, text: str, address: str, area_code: str | None,
           lng: float | None, lat: float | None) -> tuple[dict | None, Area | None]:
    """The request's own area when it has one; else the place resolved from its address and text."""
    if area_code:
        area = _area_by_code(session, area_code)
        if area is not None:
            return {"code": area.code, "path": area.path, "confidence": 1.0, "ambiguous": False,
                    "alternatives": [], "reasons": ["受理时已选定地点"]}, area
    # The address first: when the text is long, the end of it is what is cut.
    said = " ".join(p for p in (address.strip(), text.strip()) if p)[:MAX_TEXT_LENGTH]
    r = places.resolve(session, ANONYMOUS, said, lng=lng, lat=lat)  # places are public: no one to impersonate
    best = r.best
    out = {"code": best.code if best else None, "path": best.path if best else None,
           "level": best.level if best else None, "district_code": r.district_code, "street_code": r.street_code,
           "community_code": r.community_code, "confidence": round(float(r.confidence), 3), "ambiguous": r.ambiguous,
           "alternatives": [{"code": a.code, "path": a.path} for a in r.alternatives],
           "reasons": [f"{x.text} → {x.path}" for x in r.reasons if x.used]}
    # What every reading agrees on is safe to route by, even when the place below it is ambiguous.
    code = r.community_code or r.street_code or r.district_code
    area = _area_by_code(session, code) if code else None
    return out, area


def _target(session: Session, token: str, chain: list[AreaView]) -> tuple[UnitPick | None, str]:
    by_level = {a.level: a for a in chain}
    code: str | None = None
    if token == rules.STREET:
        code = by_level[AreaLevel.street].code if AreaLevel.street in by_level else None
    elif token == rules.COMMUNITY:
        code = by_level[AreaLevel.community].code if AreaLevel.community in by_level else None
    elif token == rules.DISTRICT:
        code = by_level[AreaLevel.district].code if AreaLevel.district in by_level else None
    elif token.startswith(rules.BRANCH):
        district = by_level.get(AreaLevel.district)
        code = f"{token[len(rules.BRANCH):]}-{district.code[:6]}" if district else None
    else:
        code = token
    if code is None:
        return None, f"{token}: 地点不够具体"
    def load() -> UnitPick | None:
        row = session.execute(select(Unit.code, Unit.name).where(Unit.code == code, Unit.active.is_(True))).first()
        return UnitPick(row.code, row.name) if row else None

    unit = _REFERENCE.get(session, ("unit", code), load)
    return unit, (f"{token} → {unit.name}" if unit else f"{token}: 没有单位 {code}")


def _rule_views(session: Session) -> list[rules.RuleView]:
    def load() -> list[rules.RuleView]:
        return [rules.RuleView(r.id, r.category_scope, r.area_code, r.main, tuple(json.loads(r.co_units)))
                for r in session.scalars(select(RoutingRule).where(RoutingRule.active.is_(True)))]

    return _REFERENCE.get(session, "rules", load)


def _units(session: Session, category_code: str | None,
           chain: list[AreaView]) -> tuple[UnitPick | None, list[UnitPick], list[str]]:
    rule = rules.best_rule(_rule_views(session), category_code, [a.code for a in chain])
    if rule is None:
        if not any(a.level == AreaLevel.street for a in chain):
            return None, [], ["没有适用的派单规则，地点也不到街道：请人工派单"]
        tokens, why = (rules.STREET,), ["默认：属地街道（乡镇）办理"]
    else:
        tokens = (rule.main, *rule.co_units)
        where = rule.area_code or "全市"
        why = [f"派单规则 #{rule.id}：类别 {rule.category_scope}，地区 {where}"]
    found = [_target(session, token, chain) for token in tokens]
    why += [reason for _unit, reason in found]
    main = found[0][0]
    co = list(dict.fromkeys(u for u, _reason in found[1:] if u is not None and u != main))
    return main, co, why


def _duplicates(session: Session, now: datetime, tokens, chain: list[AreaView], category_code: str | None,
                phone: str | None, before_id: int | None = None) -> list[dict]:
    street = next((a for a in chain if a.level == AreaLevel.street), None)
    community = next((a for a in chain if a.level == AreaLevel.community), None)
    conditions = []
    if street is not None:  # the street and the communities in it, by id: the tickets' area_id index serves
        areas = select(Area.id).where(or_(Area.id == street.id, Area.parent_id == street.id))
        conditions.append(Ticket.area_id.in_(areas))
    if phone:
        conditions.append(Contact.phone == phone)
    if not conditions:
        return []
    # The text only where no words were kept (tickets older than Request.terms): the rest need not cross.
    said = case((Request.terms.is_(None), Request.title + " " + Request.text), else_=None)
    rows = session.execute(
        select(Ticket.number, said, Request.terms, Area.code, Category.code, Contact.phone)
        .join(Request, Request.id == Ticket.request_id)
        .outerjoin(Area, Area.id == Ticket.area_id).outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(Contact, Contact.id == Request.contact_id)
        .where(Ticket.state.in_(OPEN_STATES), Ticket.created_at >= now - timedelta(days=DUPLICATE_DAYS),
               or_(*conditions), true() if before_id is None else Ticket.id < before_id)
        .order_by(Ticket.created_at.desc()).limit(DUPLICATE_CANDIDATES)).all()
    def same_place(code: str | None) -> bool:
        if not code:
            return False
        return code == community.code if community is not None else bool(street and code[:9] == street.code[:9])

    top = category_code.split(".")[0] if category_code else None
    candidates = [rules.Candidate(number=number, tokens=Counter(terms.split()) if terms is not None
                                  else rules.tokens_of(_segment(said or "")),
                                  same_area=same_place(code),
                                  same_category=bool(top and cat and cat.split(".")[0] == top),
                                  same_phone=bool(phone and other_phone == phone))
                  for number, said, terms, code, cat, other_phone in rows]
    return [asdict(f) for f in rules.duplicates(tokens, candidates)]


# --- the suggestion ------------------------------------------------------------------------------------

def suggest(session: Session, actor: Actor, clock: Clock, settings: Settings, *, text: str, title: str = "",
            address: str = "", area_code: str | None = None, lng: float | None = None, lat: float | None = None,
            phone: str | None = None, category_code: str | None = None) -> Suggestion:
    """The suggestion for text being typed (the console, POST /routing/suggest): for the centre's staff."""
    require(actor, Permission.routing_suggest)
    return make_suggestion(session, clock, settings, text=text, title=title, address=address, area_code=area_code,
                           lng=lng, lat=lat, phone=phone, category_code=category_code)


def make_suggestion(session: Session, clock: Clock, settings: Settings, *, text: str, title: str = "",
                    address: str = "", area_code: str | None = None, lng: float | None = None,
                    lat: float | None = None, phone: str | None = None, category_code: str | None = None,
                    before_id: int | None = None) -> Suggestion:
    """Category, place, unit(s), urgency and duplicates for a request, each with its reasons. `before_id`: the
    request is that ticket already (a deferred suggestion), whose duplicates are the tickets before it. Made for
    the dispatcher whoever files the request (intake and the worker call it; a citizen never sees it)."""
    if not text.strip():
        raise InvalidInput("a suggestion needs the request's text", field="text")
    now = clock.now()
    s = Suggestion()
    manual = []
    words = _segment(f"{title} {text}")  # once: for the classifier's reasons and for the duplicates
    if category_code:  # the operator already chose it
        category = session.scalar(select(Category).where(Category.code == category_code))
        if category is None:
            raise InvalidInput(f"no category {category_code}", field="category_code")
        s.category_code, s.category_name, s.category_confidence = category.code, category.path, 1.0
        s.category_reasons = ["受理时已选定类别"]
    else:
        prediction, s.model_version, missing = _classify(settings, title, text, words)
        if prediction is None:
            manual.append(missing or "no model")
        else:
            s.category_code = _REFERENCE.get(session, ("category", prediction.category), lambda: session.scalar(
                select(Category.code).where(Category.level == 1, Category.name == prediction.category)))
            s.category_name = prediction.category
            s.category_confidence = round(float(prediction.confidence), 3)
            s.category_alternatives = [{"category": c, "confidence": round(float(p), 3)}
                                       for c, p in prediction.alternatives]
            s.category_reasons = [f"关键词: {' '.join(prediction.reasons)}"] if prediction.reasons else []
            if s.category_confidence < MANUAL_BELOW:
                manual.append(f"类别把握不足 ({s.category_confidence:.2f})")
    s.place, area = _place(session, text, address, area_code, lng, lat)
    if area is None:
        manual.append("地点不明确" if s.place and s.place.get("ambiguous") else "未识别出地点")
    chain = _area_chain(session, area)
    main, co, s.unit_reasons = _units(session, s.category_code, chain)
    s.main_unit = UnitPick(main.code, main.name) if main else None
    s.co_units = [UnitPick(u.code, u.name) for u in co]
    if main is None:
        manual.append("没有建议的承办单位")
    finding = rules.urgency(f"{title} {text}", now.astimezone(settings.tz).date())
    s.urgency = Urgency.emergency if finding.emergency else Urgency.normal
    s.urgency_reasons = finding.triggers
    tokens = rules.tokens_of(words)
    s.terms = " ".join(tokens.elements())
    s.duplicates = _duplicates(session, now, tokens, chain, s.category_code, (phone or "").strip() or None,
                               before_id)
    place_confidence = float(s.place.get("confidence", 0.0)) if s.place and area is not None else 0.0
    s.confidence = round(min(s.category_confidence, place_confidence), 3)
    s.manual, s.manual_reasons = bool(manual), manual
    return s


# --- the deferred suggestions ------------------------------------------------------------------------------

SUGGEST_BATCH = 50  # suggestions per call of suggest_pending
SQLITE_PAUSE = 0.02  # seconds between two suggestions written on SQLite
WORKER = SMART_DISPATCH


@dataclass
class Planned:
    ticket_id: int
    number: str
    made: dict | None  # the step's input (tickets.StepInput.suggestion); None: the ticket is not new any more


def plan_suggestions(session: Session, clock: Clock, settings: Settings, *, batch: int = SUGGEST_BATCH
                     ) -> list[Planned]:
    """The suggestions of the oldest tickets waiting for one (tickets.suggest_pending), worked out with reads
    only: no row is locked and SQLite's write lock is not taken meanwhile. A ticket whose suggestion fails is
    logged and planned as done without one (the dispatcher decides), so that it cannot hold up the rest; a failure
    of the database is no ticket's fault and is raised, leaving every ticket waiting for the next pass."""
    rows = session.execute(select(Ticket.id, Ticket.number, Ticket.state, Request.title, Request.text,
                                  Request.address, Request.lng, Request.lat, Area.code, Category.code, Contact.phone)
                           .join(Request, Request.id == Ticket.request_id)
                           .outerjoin(Area, Area.id == Ticket.area_id)
                           .outerjoin(Category, Category.id == Ticket.category_id)
                           .outerjoin(Contact, Contact.id == Request.contact_id)
                           .where(Ticket.suggest_pending)  # as the partial index says it, so that it is used
                           .order_by(Ticket.id).limit(batch)).all()
    out = []
    for ticket_id, number, state, title, text, address, lng, lat, area_code, category_code, phone in rows:
        if state != TicketState.new:
            out.append(Planned(ticket_id, number, None))
            continue
        try:
            s = make_suggestion(session, clock, settings, text=text, title=title or "", address=address or "",
                        area_code=area_code, lng=lng, lat=lat, phone=phone, category_code=category_code,
                        before_id=ticket_id)
        except SQLAlchemyError:
            raise  # the database, not this ticket: the batch is retried whole on the next pass, none is skipped
        except Exception:
            log.exception("smart dispatch: no suggestion for %s", number)
            out.append(Planned(ticket_id, number, None))
            continue
        place = s.place or {}
        resolved = place.get("community_code") or place.get("street_code")
        out.append(Planned(ticket_id, number, {
            "full": s.to_dict(), "brief": s.brief(), "terms": s.terms,
            "area_code": resolved if area_code is None and lng is None and not place.get("ambiguous") else None}))
    return out


def apply_suggestions(session: Session, clock: Clock, settings: Settings, planned: list[Planned]) -> int:
    """Take the step `suggest` for each planned ticket still waiting, each in its own savepoint; take the
    others off the list. Returns how many tickets were taken off. On PostgreSQL a ticket another worker holds is
    skipped (FOR UPDATE SKIP LOCKED): that worker takes it off."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    done = 0
    gone = []
    for p in planned:
        claim = select(Ticket.state).where(Ticket.id == p.ticket_id, Ticket.suggest_pending)
        if postgresql:
            claim = claim.with_for_update(skip_locked=True)
        state = session.scalar(claim)
        if state is None:  # done meanwhile, or another worker holds it
            continue
        done += 1
        if p.made is None or state != TicketState.new:
            gone.append(p.ticket_id)
            continue
        try:
            with session.begin_nested():
                tickets.act(session, WORKER, clock, settings, p.number, Step.suggest,
                            tickets.StepInput(suggestion=p.made))
        except (ConcurrentChange, TransitionNotAllowed) as exc:  # a dispatcher got there first
            log.info("smart dispatch: %s skipped: %s", p.number, exc)
            gone.append(p.ticket_id)
    if gone:  # bookkeeping, not the ticket's state: no event, no version
        session.execute(update(Ticket).where(Ticket.id.in_(gone)).values(suggest_pending=False)
                        .execution_options(synchronize_session=False))
    return done


def suggest_pending(session: Session, clock: Clock, settings: Settings, *, batch: int = SUGGEST_BATCH) -> int:
    """At most `batch` suggestions in the caller's transaction, one ticket after the other (plan, then apply):
    how many tickets were taken off the list. Each suggestion is the workflow step `suggest`, an event like any
    other. A ticket dispatched, merged or withdrawn meanwhile gets none: the dispatcher decided without it."""
    done = 0
    for _ in range(batch):
        planned = plan_suggestions(session, clock, settings, batch=1)
        n = apply_suggestions(session, clock, settings, planned) if planned else 0
        if n == 0:
            break
        done += n
    return done


def run_suggestions(sessions: sessionmaker[Session], clock: Clock, settings: Settings, *,
                    max_rounds: int = 1000, stop: threading.Event | None = None) -> int:
    """Smart dispatch's worker, one pass: ticket after ticket, oldest first, its suggestion worked out in a
    read-only transaction and written in a short one of its own (SQLite's write lock and PostgreSQL's row lock
    held only for the writing), until nothing waits. One at a time, so that each suggestion sees the ones
    before it (their place, their words) when it looks for duplicates. Safe beside another worker (which
    then mostly finds the work done). Returns how many tickets were taken off the list."""
    done = 0
    for _ in range(max_rounds):
        if stop is not None and stop.is_set():
            break
        with unit_of_work(sessions) as session:
            planned = plan_suggestions(session, clock, settings, batch=1)
        if not planned:
            break
        with unit_of_work(sessions, write=True) as session:
            n = apply_suggestions(session, clock, settings, planned)
            sqlite = session.get_bind().dialect.name == "sqlite"
        if n == 0:  # another worker holds it: it will finish it
            break
        done += n
        if sqlite:
            time.sleep(SQLITE_PAUSE)  # a waiting web request gets SQLite's write lock before the next ticket
    return done


def stored_suggestion(ticket: Ticket | None) -> Suggestion | None:
    if ticket is None or not ticket.suggestion:
        return None
    data = json.loads(ticket.suggestion)
    data["main_unit"] = UnitPick(**data["main_unit"]) if data.get("main_unit") else None
    data["co_units"] = [UnitPick(**u) for u in data.get("co_units", [])]
    data["urgency"] = Urgency(data.get("urgency", "normal"))
    return Suggestion(**data)


# --- the rules table -----------------------------------------------------------------------------------

def list_rules(session: Session, actor: Actor) -> list[RoutingRule]:
    require(actor, Permission.routing_suggest)
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.category_scope, RoutingRule.area_code)))


def set_rule(session: Session, actor: Actor, clock: Clock, *, category_scope: str, area_code: str | None,
             main: str, co_units: list[str] | None = None, note: str = "", active: bool = True) -> RoutingRule:
    """Add or replace the rule for (category scope, area)."""
    require(actor, Permission.routing_edit)
    category_scope = category_scope.strip() or rules.ANY
    if category_scope != rules.ANY and session.scalar(select(Category.id).where(Category.code == category_scope)) \
            is None:
        raise InvalidInput(f"no category {category_scope} (use a category code, e.g. 01.02, or *)",
                           field="category_scope")
    area_code = (area_code or "").strip() or None
    if area_code is not None:
        level = session.scalar(select(Area.level).where(Area.code == area_code))
        if level not in (AreaLevel.district, AreaLevel.street):
            raise InvalidInput(f"{area_code} is not a district or street/township code", field="area_code")
    targets = [main.strip(), *[c.strip() for c in co_units or []]]
    for i, token in enumerate(targets):
        if not rules.valid_target(token):
            raise InvalidInput(f"{token!r} is not a unit code or one of @street, @community, @district, "
                               "@branch:<department key>", field="main" if i == 0 else "co_units")
        if not token.startswith("@") and session.scalar(select(Unit.id).where(Unit.code == token)) is None:
            raise InvalidInput(f"no unit with code {token}", field="main" if i == 0 else "co_units")
        if token.startswith(rules.BRANCH) and session.scalar(select(Unit.id).where(
                Unit.kind == UnitKind.department, Unit.department_key == token[len(rules.BRANCH):])) is None:
            raise InvalidInput(f"no department with key {token[len(rules.BRANCH):]}",
                               field="main" if i == 0 else "co_units")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"note has at most {MAX_NOTE} characters", field="note")
    rule = session.scalar(select(RoutingRule).where(RoutingRule.category_scope == category_scope,
                                                    RoutingRule.area_code.is_(None) if area_code is None
                                                    else RoutingRule.area_code == area_code))
    before = rule_snapshot(rule) if rule is not None else None
    if rule is None:
        rule = RoutingRule(category_scope=category_scope, area_code=area_code)
        session.add(rule)
    rule.main, rule.co_units = targets[0], json.dumps(targets[1:], ensure_ascii=False)
    rule.note, rule.active = note, active
    rule.updated_by, rule.updated_at = actor.username, clock.now()
    session.flush()
    _REFERENCE.clear()  # this process's next suggestion reads the rules again
    after = rule_snapshot(rule)
    if after != before:
        audit.record(session, actor, "rule", rule_key(rule), "set" if before else "create", before, after,
                     at=rule.updated_at)
    return rule


def rule_key(rule: RoutingRule) -> str:
    """How the audit names a rule: its category scope @ its area (* for anywhere), as `jiesu routing rules` prints."""
    return f"{rule.category_scope}@{rule.area_code or rules.ANY}"


def rule_snapshot(rule: RoutingRule) -> dict:
    return {"id": rule.id, "category_scope": rule.category_scope, "area_code": rule.area_code, "main": rule.main,
            "co_units": json.loads(rule.co_units or "[]"), "note": rule.note, "active": rule.active}


def get_rule(session: Session, actor: Actor, rule_id: int) -> RoutingRule:
    require(actor, Permission.routing_suggest)
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise RuleNotFound(f"no routing rule #{rule_id}", field="rule_id")
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: int, *, clock: Clock | None = None) -> None:
    require(actor, Permission.routing_edit)
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise RuleNotFound(f"no routing rule #{rule_id}", field="rule_id")
    before = rule_snapshot(rule)
    session.delete(rule)
    session.flush()
    _REFERENCE.clear()
    audit.record(session, actor, "rule", f"{before['category_scope']}@{before['area_code'] or rules.ANY}", "delete",
                 before, None, at=clock.now() if clock else None)


# Water, power, gas and heating go to their company, copied to the street that answers for the place.
DEFAULT_RULES = (("自来水供应", "water"), ("电力供应", "power"), ("燃气供应", "gas"), ("冬季采暖", "heating"))


def seed_default_rules(session: Session, actor: Actor, clock: Clock) -> int:
    """The default rules, where none is set for their category yet. Returns how many were added."""
    added = 0
    for name, utility in DEFAULT_RULES:
        category = session.scalar(select(Category).where(Category.name == name).order_by(Category.level))
        if category is None or session.scalar(select(Unit.id).where(Unit.code == utility)) is None:
            continue
        if session.scalar(select(RoutingRule.id).where(RoutingRule.category_scope == category.code)) is None:
            set_rule(session, actor, clock, category_scope=category.code, area_code=None, main=utility,
                     co_units=[rules.STREET], note=f"{name}：专业公司办理，抄送属地街道")
            added += 1
    return added


# --- measuring the suggestions -------------------------------------------------------------------------

@dataclass
class Accuracy:
    month: str
    dispatched: int  # first dispatches in the month of tickets that had a suggestion
    category_followed: int
    category_judged: int  # dispatches where both the suggestion and the dispatcher named a category
    unit_followed: int
    unit_judged: int
    manual: int  # tickets the suggestion sent to the manual queue

    @property
    def category_rate(self) -> float | None:
        return self.category_followed / self.category_judged if self.category_judged else None

    @property
    def unit_rate(self) -> float | None:
        return self.unit_followed / self.unit_judged if self.unit_judged else None


def _month_bounds(month: str, settings: Settings) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=settings.tz)
    except ValueError:
        raise InvalidInput("month is YYYY-MM, e.g. 2023-03", field="month") from None
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def accuracy(session: Session, actor: Actor, settings: Settings, month: str) -> Accuracy:
    """How often the first dispatch of a ticket followed its suggestion, from the event log."""
    require(actor, Permission.routing_suggest)
    start, end = _month_bounds(month, settings)
    events = session.execute(select(TicketEvent.ticket_id, TicketEvent.payload)
                             .where(TicketEvent.action == Step.dispatch.value, TicketEvent.at >= start,
                                    TicketEvent.at < end).order_by(TicketEvent.ticket_id, TicketEvent.seq)).all()
    out = Accuracy(month, 0, 0, 0, 0, 0, 0)
    seen = set()
    for ticket_id, payload in events:
        data = json.loads(payload or "{}")
        if ticket_id in seen or "suggested" not in data:
            continue
        seen.add(ticket_id)
        s = data["suggested"]
        out.dispatched += 1
        out.manual += bool(s.get("manual"))
        if s.get("category") and data.get("category"):
            out.category_judged += 1
            out.category_followed += _same_top(s["category"], data["category"])
        if s.get("unit"):
            out.unit_judged += 1
            out.unit_followed += s["unit"] == data.get("unit")
    return out


def _same_top(a: str, b: str) -> bool:
    # The classifier names a first-level category; a dispatcher who picks a leaf under it agrees with it.
    return a == b or b.startswith(a + ".") or a.startswith(b + ".")


def corrections(session: Session, actor: Actor) -> list[tuple[str, str, str]]:
    """(title, text, first-level category name) of every ticket whose dispatcher chose another category
    than the one suggested: what `jiesu routing train` learns from besides the corpus."""
    require(actor, Permission.routing_suggest)
    rows = session.execute(select(TicketEvent.payload, Request.title, Request.text)
                           .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                           .join(Request, Request.id == Ticket.request_id)
                           .where(TicketEvent.action == Step.dispatch.value,
                                  and_(TicketEvent.payload.like('%"suggested"%')))).all()
    tops = dict(session.execute(select(Category.code, Category.name).where(Category.level == 1)).all())
    out = []
    for payload, title, text in rows:
        data = json.loads(payload or "{}")
        chosen, suggested = data.get("category"), data.get("suggested", {}).get("category")
        if chosen and not (suggested and _same_top(suggested, chosen)):
            name = tops.get(chosen.split(".")[0])
            if name:
                out.append((title or "", text, name))
    return out
