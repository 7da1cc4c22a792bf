"""Knowledge base use cases: articles and their review, search, direct answers, statistics, articles proposed
from units' replies, and the demo's articles from the replied messages of the corpus.

Search segments the text with the routing tokenizer (one jieba per process), keeps the query's rarer words
(rules.pick_terms, from the document frequencies in knowledge_terms) and lets the database rank: SQLite's
FTS5 with bm25() (question words weigh three times answer words), PostgreSQL's GIN index on a generated
tsvector with ts_rank per word weighted by the word's BM25 idf. Only published articles within their
validity are ever found; citizens and anonymous callers find the public ones only.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, column, func, literal_column, or_, select, table, text
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from jiesu.audit import rules as audit_rules
from jiesu.audit import service as audit
from jiesu.audit.models import AuditEntry
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.data import read_csv
from jiesu.data.teddy import clean, load_corpus, localise, usable
from jiesu.errors import (
    CategoryNotFound,
    ConcurrentChange,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PlaceNotFound,
    TransitionNotAllowed,
    UnitNotFound,
    check_page,
)
from jiesu.knowledge import rules
from jiesu.knowledge.models import FTS_TABLE, SEARCH_VECTOR, Article, DirectAnswer, Term
from jiesu.knowledge.rules import ArticleStatus, Step, Who
from jiesu.limits import MAX_REASON, MAX_TEXT
from jiesu.permissions import STAFF, Actor, Permission, Role, can, require
from jiesu.places import service as places
from jiesu.places.models import Area, AreaLevel
from jiesu.routing.text import segment, segment_many
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category, RequestType
from jiesu.tickets.models import Outcome, Request, Ticket, TicketEvent
from jiesu.units.models import Unit

MAX_QUESTION = 500
MAX_ANSWER = 10_000
MAX_QUERY = MAX_TEXT  # the caller's words, as long as a request's text
MAX_RESULTS = 50
ALL_DOCS = ""  # the knowledge_terms row that counts the articles


class ArticleNotFound(NotFound):
    code = "article_not_found"


# --- the words and their counts ---------------------------------------------------------------------

def terms_of(question: str, answer: str) -> tuple[str, str]:
    """The stored words of a question and an answer (segmented, cleaned, space-separated)."""
    q_words, a_words = segment_many([question, answer])
    return rules.document_terms(q_words, a_words)


def _upsert_counts(session: Session, delta: dict[str, int]) -> None:
    """Add `delta` to the document frequencies (one statement; in term order, so that two writers lock the
    same rows in the same order)."""
    rows = [{"term": t, "df": d} for t, d in sorted(delta.items()) if d]
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    for start in range(0, len(rows), 2000):  # SQLite binds at most 32766 parameters per statement
        stmt = upsert(Term).values(rows[start:start + 2000])
        session.execute(stmt.on_conflict_do_update(index_elements=["term"], set_={"df": Term.df + stmt.excluded.df}))


def _recount(session: Session, before: set[str] | None, after: set[str] | None) -> None:
    delta: Counter[str] = Counter()
    for t in before or ():
        delta[t] -= 1
    for t in after or ():
        delta[t] += 1
    if before is None:
        delta[ALL_DOCS] += 1
    if after is None:
        delta[ALL_DOCS] -= 1
    _upsert_counts(session, delta)


def rebuild_index(session: Session, actor: Actor, *, resegment: bool = False) -> int:
    """Count every article's words again (after a bulk load, or with `resegment` after the segmentation
    dictionary changed: then the words are cut again too) and rebuild SQLite's FTS5 index from the articles.
    Returns the number of articles."""
    require(actor, Permission.knowledge_review)
    if resegment:
        articles = list(session.scalars(select(Article)))
        for a, (qt, at) in zip(articles, _terms_many([(a.question, a.answer) for a in articles]), strict=True):
            if (a.question_terms, a.answer_terms) != (qt, at):
                a.question_terms, a.answer_terms = qt, at
        session.flush()
    counts: Counter[str] = Counter()
    n = 0
    for qt, at in session.execute(select(Article.question_terms, Article.answer_terms).execution_options(
            yield_per=5000)):
        counts.update(rules.unique_terms(qt, at))
        n += 1
    counts[ALL_DOCS] = n
    session.execute(Term.__table__.delete())
    rows = [{"term": t, "df": d} for t, d in sorted(counts.items()) if len(t) <= 64]
    for start in range(0, len(rows), 5000):
        session.execute(Term.__table__.insert(), rows[start:start + 5000])
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"))
    return n


def _terms_many(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    words = segment_many([t for pair in pairs for t in pair])
    return [rules.document_terms(words[2 * i], words[2 * i + 1]) for i in range(len(pairs))]


# --- articles --------------------------------------------------------------------------------------

@dataclass
class ArticleInput:
    question: str
    answer: str
    category_code: str | None = None
    area_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    unit_code: str | None = None
    public: bool = True
    from_tickets: list[str] = field(default_factory=list)  # a proposal's tickets: the replies it comes from


def _validate(data: ArticleInput) -> None:
    if not data.question.strip():
        raise InvalidInput("an article needs its question", field="question")
    if len(data.question.strip()) > MAX_QUESTION:
        raise InvalidInput(f"question has at most {MAX_QUESTION} characters", field="question")
    if not data.answer.strip():
        raise InvalidInput("an article needs its answer", field="answer")
    if len(data.answer.strip()) > MAX_ANSWER:
        raise InvalidInput(f"answer has at most {MAX_ANSWER} characters", field="answer")
    if data.valid_from and data.valid_to and data.valid_to < data.valid_from:
        raise InvalidInput("valid_to comes before valid_from", field="valid_to")


def _category(session: Session, code: str | None) -> Category | None:
    if not code:
        return None
    try:
        return taxonomy.category_by_code(session, code)
    except CategoryNotFound as exc:
        raise InvalidInput(str(exc), field="category_code") from exc


def _area(session: Session, code: str | None) -> Area | None:
    if not code:
        return None
    try:
        return places.by_code(session, code)
    except PlaceNotFound as exc:
        raise InvalidInput(str(exc), field="area_code") from exc


def _source_unit(session: Session, actor: Actor, code: str | None) -> Unit | None:
    """The department an article comes from: a unit's own people write for their unit only."""
    if actor.role == Role.unit_handler:
        own = session.get(Unit, actor.unit_id) if actor.unit_id else None
        if own is None:
            raise PermissionDenied("a unit handler without a unit may not write articles")
        if code and code != own.code:
            raise PermissionDenied(f"you write for {own.code}, not {code}", field="unit_code")
        return own
    if not code:
        return None
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise InvalidInput(f"no unit with code {code}", field="unit_code")
    return unit


def _is_reviewer(actor: Actor) -> bool:
    return can(actor.role, Permission.knowledge_review)


def _may_edit(actor: Actor, article: Article) -> bool:
    if not can(actor.role, Permission.knowledge_edit):
        return False
    return _is_reviewer(actor) or (actor.unit_id is not None and article.unit_id == actor.unit_id)


def create(session: Session, actor: Actor, clock: Clock, data: ArticleInput, *, publish: bool = False,
           source: str | None = None, source_ref: str | None = None) -> Article:
    """A new article, as a draft; a reviewer may publish it at once (`publish`)."""
    require(actor, Permission.knowledge_edit)
    if publish:
        require(actor, Permission.knowledge_review)
    _validate(data)
    now = clock.now()
    question, answer = data.question.strip(), data.answer.strip()
    qt, at = terms_of(question, answer)
    if data.from_tickets:
        source = source or "replies"
        source_ref = source_ref or ",".join(data.from_tickets)[:256]
    article = Article(question=question, answer=answer, category=_category(session, data.category_code),
                      area=_area(session, data.area_code), valid_from=data.valid_from, valid_to=data.valid_to,
                      unit=_source_unit(session, actor, data.unit_code), public=data.public,
                      status=ArticleStatus.published if publish else ArticleStatus.draft,
                      question_terms=qt, answer_terms=at, source=source or "manual", source_ref=source_ref,
                      created_at=now, created_by=actor.username, updated_at=now, updated_by=actor.username,
                      reviewed_at=now if publish else None, reviewed_by=actor.username if publish else None,
                      review_note="")
    session.add(article)
    session.flush()
    _recount(session, None, rules.unique_terms(qt, at))
    audit.record(session, actor, "article", str(article.id), "publish" if publish else "create", None,
                 article_snapshot(session, article), at=now)
    return article


def article_snapshot(session: Session, a: Article) -> dict:
    """An article as the audit keeps it: its fields, with the codes of its category, area and unit."""
    def code(model, id_):
        return session.get(model, id_).code if id_ is not None else None
    return {"question": a.question, "answer": a.answer, "status": a.status.value,
            "category": code(Category, a.category_id), "area": code(Area, a.area_id), "unit": code(Unit, a.unit_id),
            "valid_from": a.valid_from, "valid_to": a.valid_to, "public": a.public, "review_note": a.review_note}


def history(session: Session, actor: Actor, article_id: int) -> list[audit.Entry]:
    """Who did what to an article and when (the audit's entries of it, oldest first), for its editors."""
    _editable(session, actor, article_id)
    rows = session.scalars(select(AuditEntry).where(AuditEntry.entity == "article", AuditEntry.key == str(article_id))
                           .order_by(AuditEntry.at, AuditEntry.id).limit(500))
    return [audit.Entry(e.id, e.at, e.actor, e.role, e.entity, e.key, e.action,
                        audit_rules.changes(json.loads(e.before) if e.before else None,
                                            json.loads(e.after) if e.after else None)) for e in rows]


def _load(session: Session, article_id: int) -> Article | None:
    return session.scalar(select(Article).where(Article.id == article_id).options(
        selectinload(Article.category), selectinload(Article.area), selectinload(Article.unit)))


def get(session: Session, actor: Actor, clock: Clock, settings: Settings, article_id: int) -> Article:
    """One article, for whom may see it: its editors and reviewers whatever its status; other staff while
    it is live; citizens and anonymous visitors while it is live and public. Else: not found."""
    require(actor, Permission.knowledge_read)
    article = _load(session, article_id)
    if article is None or not visible(actor, article, today(clock, settings)):
        raise ArticleNotFound(f"no article {article_id}", field="id")
    return article


def visible(actor: Actor, article: Article, on: date) -> bool:
    if _may_edit(actor, article):
        return True
    live = rules.is_live(article.status, article.valid_from, article.valid_to, on)
    return live and (article.public or actor.role in STAFF)


def today(clock: Clock, settings: Settings) -> date:
    return clock.now().astimezone(settings.tz).date()


def _editable(session: Session, actor: Actor, article_id: int) -> Article:
    require(actor, Permission.knowledge_edit)
    article = _load(session, article_id)
    if article is None or not _may_edit(actor, article):
        # another unit's article is none of this editor's business: not found, as for a reader
        raise ArticleNotFound(f"no article {article_id} among yours", field="id")
    return article


def _check_version(article: Article, expected: int | None) -> None:
    if expected is not None and expected != article.version:
        raise ConcurrentChange(f"article {article.id} is at version {article.version}, not {expected}: reload it",
                               field="expected_version")


def _flush(session: Session, article: Article) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrentChange(f"article {article.id} was changed by someone else meanwhile: reload it",
                               field="id") from None


def edit(session: Session, actor: Actor, clock: Clock, article_id: int, data: ArticleInput,
         expected_version: int | None = None) -> Article:
    """Change a draft or an article in review (a published one is revised first: Step.revise)."""
    article = _editable(session, actor, article_id)
    _check_version(article, expected_version)
    if article.status not in rules.EDITABLE:
        raise TransitionNotAllowed(f"a {article.status.value} article is revised (back to draft) before it is "
                                   "edited", field="status")
    _validate(data)
    before_snap = article_snapshot(session, article)
    question, answer = data.question.strip(), data.answer.strip()
    if (question, answer) != (article.question, article.answer):
        before = rules.unique_terms(article.question_terms, article.answer_terms)
        article.question, article.answer = question, answer
        article.question_terms, article.answer_terms = terms_of(question, answer)
        _recount(session, before, rules.unique_terms(article.question_terms, article.answer_terms))
    article.category = _category(session, data.category_code)
    article.area = _area(session, data.area_code)
    article.valid_from, article.valid_to, article.public = data.valid_from, data.valid_to, data.public
    if not (actor.role == Role.unit_handler and data.unit_code is None):
        article.unit = _source_unit(session, actor, data.unit_code)
    article.updated_at, article.updated_by = clock.now(), actor.username
    _flush(session, article)
    after_snap = article_snapshot(session, article)
    if after_snap != before_snap:
        audit.record(session, actor, "article", str(article.id), "edit", before_snap, after_snap,
                     at=article.updated_at)
    return article


def act(session: Session, actor: Actor, clock: Clock, article_id: int, step: Step, note: str = "",
        expected_version: int | None = None) -> Article:
    """One step of an article's life (rules.TRANSITIONS): submit, approve, reject (with a note), expire,
    revise."""
    sources, target, who = rules.TRANSITIONS[step]
    if who == Who.reviewer:
        require(actor, Permission.knowledge_review)
    article = _editable(session, actor, article_id)
    _check_version(article, expected_version)
    if rules.next_status(article.status, step) is None:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise TransitionNotAllowed(f"{step.value} is for an article that is {allowed}; this one is "
                                   f"{article.status.value}", field="status")
    note = note.strip()
    if step == Step.reject and not note:
        raise InvalidInput("say why the article goes back to its editor", field="note")
    if len(note) > MAX_REASON:
        raise InvalidInput(f"note has at most {MAX_REASON} characters", field="note")
    now = clock.now()
    before = article_snapshot(session, article)
    article.status = target
    if who == Who.reviewer:
        article.reviewed_at, article.reviewed_by, article.review_note = now, actor.username, note
    elif note:
        article.review_note = note
    article.updated_at, article.updated_by = now, actor.username
    _flush(session, article)
    audit.record(session, actor, "article", str(article.id), step.value, before, article_snapshot(session, article),
                 at=now)
    return article


def delete(session: Session, actor: Actor, article_id: int) -> None:
    """Remove a draft that was never published (anything else is expired, so that its history stays)."""
    article = _editable(session, actor, article_id)
    if article.status != ArticleStatus.draft or article.reviewed_at is not None:
        raise TransitionNotAllowed("only a draft that was never published is deleted; expire the others",
                                   field="status")
    before = rules.unique_terms(article.question_terms, article.answer_terms)
    snapshot = article_snapshot(session, article)
    session.delete(article)
    session.flush()
    _recount(session, before, None)
    audit.record(session, actor, "article", str(article_id), "delete", snapshot, None)


@dataclass
class ArticleFilter:
    status: ArticleStatus | None = None
    unit_code: str | None = None
    category_code: str | None = None
    q: str | None = None  # in the question


def list_articles(session: Session, actor: Actor, f: ArticleFilter, limit: int = 50,
                  offset: int = 0) -> tuple[list[Article], int]:
    """The articles an editor maintains (a reviewer: all; a unit: its own), newest change first."""
    require(actor, Permission.knowledge_edit)
    check_page(limit, offset)
    stmt = select(Article)
    if not _is_reviewer(actor):
        stmt = stmt.where(Article.unit_id == actor.unit_id)
    if f.status:
        stmt = stmt.where(Article.status == f.status)
    if f.unit_code:
        stmt = stmt.where(Article.unit_id.in_(select(Unit.id).where(Unit.code == f.unit_code)))
    if f.category_code:
        stmt = stmt.where(_in_category(f.category_code))
    if f.q:
        stmt = stmt.where(Article.question.contains(f.q.strip(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = session.scalars(stmt.options(selectinload(Article.category), selectinload(Article.area),
                                         selectinload(Article.unit))
                            .order_by(Article.updated_at.desc(), Article.id.desc()).limit(limit).offset(offset))
    return list(items), total


def _in_category(code: str):
    under = select(Category.id).where(or_(Category.code == code, Category.code.like(code + ".%")))
    return Article.category_id.in_(under)


# --- search ----------------------------------------------------------------------------------------

@dataclass
class Hit:
    article: Article
    score: float  # the database's relevance: higher is better; comparable within one answer only
    matched: list[str]  # the query's words the article holds


@dataclass
class SearchResult:
    hits: list[Hit]
    terms: list[str]  # the words asked (rarest first)
    ignored: list[str]  # the query's other words: unknown to the base, or too common to tell articles apart


def search(session: Session, actor: Actor, clock: Clock, settings: Settings, text_: str, *, limit: int = 5,
           category_code: str | None = None, area_code: str | None = None) -> SearchResult:
    """The live articles that best answer `text_`, best first. Staff find internal articles too; citizens and
    anonymous visitors the public ones. `area_code` keeps the articles for that area (or above it, or for
    the whole city); `category_code` those of that category or under it."""
    require(actor, Permission.knowledge_read)
    if len(text_) > MAX_QUERY:
        raise InvalidInput(f"the text has at most {MAX_QUERY} characters", field="q")
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"limit must be between 1 and {MAX_RESULTS}", field="limit")
    words = rules.clean_terms(segment(text_)) if text_.strip() else []
    asked = list(dict.fromkeys(words))
    if not asked:
        return SearchResult([], [], [])
    df = dict(session.execute(select(Term.term, Term.df).where(Term.term.in_([*asked, ALL_DOCS]))).all())
    n = df.pop(ALL_DOCS, 0)
    query = rules.pick_terms(asked, df, n)
    picked = query.terms
    chosen = {q.term for q in picked}
    ignored = [t for t in asked if t not in chosen]
    if not query:
        return SearchResult([], [], ignored)
    filters = _live_filters(session, actor, today(clock, settings), category_code, area_code)
    if session.get_bind().dialect.name == "postgresql":
        stmt = _postgresql_query(query, filters, limit)
    else:
        stmt = _sqlite_query(query, filters, limit)
    ranked = [(row[0], float(row[1])) for row in session.execute(stmt)]
    if not ranked:
        return SearchResult([], [q.term for q in picked], ignored)
    loaded = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_([i for i, _ in ranked])).options(
        selectinload(Article.category), selectinload(Article.area), selectinload(Article.unit)))}
    hits = []
    for article_id, score in ranked:
        a = loaded[article_id]
        held = rules.unique_terms(a.question_terms, a.answer_terms)
        hits.append(Hit(a, round(score, 6), [q.term for q in picked if q.term in held]))
    return SearchResult(hits, [q.term for q in picked], ignored)


def _live_filters(session: Session, actor: Actor, on: date, category_code: str | None,
                  area_code: str | None) -> list:
    filters = [Article.status == ArticleStatus.published,
               or_(Article.valid_from.is_(None), Article.valid_from <= on),
               or_(Article.valid_to.is_(None), Article.valid_to >= on)]
    if actor.role not in STAFF:
        filters.append(Article.public.is_(True))
    if category_code:
        try:
            taxonomy.category_by_code(session, category_code)
        except CategoryNotFound as exc:
            raise InvalidInput(str(exc), field="category_code") from exc
        filters.append(_in_category(category_code))
    if area_code:
        try:
            area = places.by_code(session, area_code)
        except PlaceNotFound as exc:
            raise InvalidInput(str(exc), field="area_code") from exc
        chain = []
        while area is not None:
            chain.append(area.id)
            area = session.get(Area, area.parent_id) if area.parent_id else None
        filters.append(or_(Article.area_id.is_(None), Article.area_id.in_(chain)))
    return filters


def _sqlite_query(query: rules.Query, filters: list, limit: int) -> Select:
    fts = table(FTS_TABLE, column("rowid"))
    # bm25() is lower for better matches; its arguments are the columns' weights, in the table's order.
    rank = func.bm25(literal_column(FTS_TABLE), literal_column(repr(rules.QUESTION_WEIGHT)),
                     literal_column(repr(rules.ANSWER_WEIGHT)))
    return (select(Article.id, (-rank).label("score"))
            .select_from(fts.join(Article.__table__, Article.id == fts.c.rowid))
            .where(text(f"{FTS_TABLE} MATCH :match").bindparams(match=rules.fts5_match(query)), and_(*filters))
            .order_by(rank).limit(limit))


SIMPLE = literal_column("'simple'::regconfig")
NORMALISATION = 1  # ts_rank divided by 1 + log(the article's length): long answers do not win by size


def _postgresql_query(query: rules.Query, filters: list, limit: int) -> Select:
    vector = literal_column(f"knowledge_articles.{SEARCH_VECTOR}")
    # ts_rank has no idf: each word's rank (question words weigh 1.0, answer words 0.4: ts_rank's A and B) is
    # weighted by the word's BM25 idf, so that rare words outweigh common ones, as in bm25() on SQLite.
    score = None
    for t in query.terms:
        part = func.ts_rank(vector, func.to_tsquery(SIMPLE, rules.tsquery(t.term)), NORMALISATION) * t.idf
        score = part if score is None else score + part
    return (select(Article.id, score.label("score"))
            .where(vector.op("@@")(func.to_tsquery(SIMPLE, rules.tsquery_text(query))), and_(*filters))
            .order_by(score.desc(), Article.id).limit(limit))


# --- direct answers (jiesu.intake closes the call) -------------------------------------------------

def live_article(session: Session, clock: Clock, settings: Settings, article_id: int) -> Article:
    """The article a direct answer comes from: it must be published and valid today."""
    article = _load(session, article_id)
    if article is None or not rules.is_live(article.status, article.valid_from, article.valid_to,
                                            today(clock, settings)):
        raise InvalidInput(f"article {article_id} is not published or no longer valid", field="article_id")
    return article


# --- statistics -------------------------------------------------------------------------------------

@dataclass
class MonthStats:
    month: str
    requests: int  # everything that came in
    tickets: int  # dispatched as tickets
    direct_answers: int  # answered at once, no ticket (直接答复)
    from_articles: int  # of those, with an article of the knowledge base
    edited: int  # of those, with the article's answer adapted
    inquiries: int  # 咨询 requests
    inquiries_ticketed: int  # 咨询 that still became tickets

    @property
    def direct_share(self) -> float | None:
        return self.direct_answers / self.requests if self.requests else None


@dataclass
class Stats:
    months: list[MonthStats]
    top_articles: list[tuple[Article, int]]  # the most used articles of the last month asked


def _month_start(month: str, settings: Settings) -> datetime:
    try:
        return datetime.strptime(month, "%Y-%m").replace(tzinfo=settings.tz)
    except ValueError:
        raise InvalidInput("month is YYYY-MM, e.g. 2024-09", field="month") from None


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def stats(session: Session, actor: Actor, clock: Clock, settings: Settings, month: str | None = None, *,
          months: int = 1, top: int = 10) -> Stats:
    """Direct answers counted apart from tickets, for `months` months up to `month` (default: this month)."""
    require(actor, Permission.knowledge_stats)
    if not 1 <= months <= 36:
        raise InvalidInput("months must be between 1 and 36", field="months")
    month = month or clock.now().astimezone(settings.tz).strftime("%Y-%m")
    last = _month_start(month, settings)
    starts = [last]
    for _ in range(months - 1):
        starts.insert(0, (starts[0] - timedelta(days=1)).replace(day=1))
    out = []
    for start in starts:
        end = _next_month(start)
        window = and_(Request.created_at >= start, Request.created_at < end)
        by = dict(session.execute(select(Request.outcome, func.count()).where(window)
                                  .group_by(Request.outcome)).all())
        inquiries = dict(session.execute(select(Request.outcome, func.count()).where(
            window, Request.request_type == RequestType.inquiry).group_by(Request.outcome)).all())
        used = session.execute(select(func.count(DirectAnswer.article_id), func.count()).select_from(DirectAnswer)
                               .join(Request, Request.id == DirectAnswer.request_id).where(window)).one()
        edited = session.scalar(select(func.count()).select_from(DirectAnswer).join(
            Request, Request.id == DirectAnswer.request_id).where(window, DirectAnswer.edited.is_(True))) or 0
        tickets_n, direct = by.get(Outcome.ticket, 0), by.get(Outcome.direct_answer, 0)
        out.append(MonthStats(start.strftime("%Y-%m"), tickets_n + direct, tickets_n, direct, used[0], edited,
                              sum(inquiries.values()), inquiries.get(Outcome.ticket, 0)))
    start, end = last, _next_month(last)
    rows = session.execute(select(DirectAnswer.article_id, func.count().label("n")).join(
        Request, Request.id == DirectAnswer.request_id).where(
        Request.created_at >= start, Request.created_at < end, DirectAnswer.article_id.is_not(None))
        .group_by(DirectAnswer.article_id).order_by(func.count().desc(), DirectAnswer.article_id).limit(top)).all()
    articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_([r[0] for r in rows])))}
    return Stats(out, [(articles[r[0]], r[1]) for r in rows])


# --- proposals from units' replies -------------------------------------------------------------------

MAX_REPLIES = 20_000  # the newest replies a proposal run reads
MAX_PROPOSAL_DAYS, MAX_PROPOSAL_MIN_COUNT, MAX_PROPOSALS = 3650, 1000, 200  # a run's bounds (API, CLI, here)


@dataclass
class Proposal:
    question: str
    answer: str
    category_code: str | None
    category_name: str | None
    unit_code: str | None
    unit_name: str | None
    count: int  # tickets answered this way
    tickets: list[str]  # their numbers, oldest first (at most 20)


def propose(session: Session, actor: Actor, clock: Clock, *, days: int = 365, min_count: int = 3,
            limit: int = 20) -> list[Proposal]:
    """Replies that answer the same question the same way again and again (rules.repeated_replies), within
    one unit and category over the last `days` days, as articles to write: the typical question and the
    typical reply, without its salutation, thanks and date. Groups whose tickets an article was already built
    from are left out."""
    require(actor, Permission.knowledge_review)
    if not 1 <= days <= MAX_PROPOSAL_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_PROPOSAL_DAYS}", field="days")
    if not 2 <= min_count <= MAX_PROPOSAL_MIN_COUNT:
        raise InvalidInput(f"min_count must be between 2 and {MAX_PROPOSAL_MIN_COUNT}", field="min_count")
    if not 1 <= limit <= MAX_PROPOSALS:
        raise InvalidInput(f"limit must be between 1 and {MAX_PROPOSALS}", field="limit")
    since = clock.now() - timedelta(days=days)
    rows = session.execute(
        select(Ticket.number, TicketEvent.reason, TicketEvent.unit_id, Ticket.main_unit_id, Ticket.category_id,
               Request.title, Request.text, Request.terms)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id).join(Request, Request.id == Ticket.request_id)
        .where(TicketEvent.action == "reply", TicketEvent.at >= since)
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc()).limit(MAX_REPLIES)).all()
    rows.reverse()  # oldest first: a group's first reply is its oldest
    if not rows:
        return []
    answers = [rules.answer_from_reply(r.reason or "") for r in rows]
    need = [(r.title or "") + " " + r.text for r in rows if not r.terms]
    cut = iter(segment_many(need))
    replies, meta = [], {}
    answer_words = segment_many(answers)
    for r, text_answer, words in zip(rows, answers, answer_words, strict=True):
        q_words = r.terms.split() if r.terms else next(cut)
        unit_id = r.unit_id or r.main_unit_id
        reply = rules.Reply(r.number, f"{unit_id}:{r.category_id}", frozenset(rules.clean_terms(q_words)),
                            frozenset(rules.clean_terms(words)))
        replies.append(reply)
        meta[r.number] = (r, text_answer, unit_id)
    used = set()
    for ref in session.scalars(select(Article.source_ref).where(Article.source == "replies",
                                                                 Article.source_ref.is_not(None))):
        used.update(ref.split(","))
    out = []
    for group in rules.repeated_replies(replies, min_count=min_count):
        numbers = [r.key for r in group]
        if used.intersection(numbers):
            continue
        best = rules.medoid(group)
        r, text_answer, unit_id = meta[best.key]
        unit = session.get(Unit, unit_id) if unit_id else None
        category = session.get(Category, r.category_id) if r.category_id else None
        out.append(Proposal(rules.question_from(r.title or "", r.text), text_answer,
                            category.code if category else None, category.name if category else None,
                            unit.code if unit else None, unit.name if unit else None, len(numbers), numbers[:20]))
        if len(out) >= limit:
            break
    return out


def accept_proposals(session: Session, actor: Actor, clock: Clock, proposals: Iterable[Proposal]) -> list[Article]:
    """Drafts from proposals, for their departments to check and send to review."""
    require(actor, Permission.knowledge_review)
    return [create(session, actor, clock, ArticleInput(p.question, p.answer, category_code=p.category_code,
                                                       unit_code=p.unit_code, from_tickets=p.tickets))
            for p in proposals]


# --- expiry ------------------------------------------------------------------------------------------

def expire_due(session: Session, actor: Actor, clock: Clock, settings: Settings) -> int:
    """Mark expired the published articles whose validity has ended (searches skip them already)."""
    require(actor, Permission.knowledge_review)
    on = today(clock, settings)
    now = clock.now()
    due = list(session.scalars(select(Article).where(Article.status == ArticleStatus.published,
                                                     Article.valid_to < on)))
    for a in due:
        before = article_snapshot(session, a)
        a.status, a.updated_at, a.updated_by = ArticleStatus.expired, now, actor.username
        a.review_note = f"有效期至 {a.valid_to.isoformat()}，已过期"
        audit.record(session, actor, "article", str(a.id), Step.expire.value, before, article_snapshot(session, a),
                     at=now)
    session.flush()
    return len(due)


# --- import and the demo ---------------------------------------------------------------------------

@dataclass
class ImportReport:
    created: int
    skipped: int  # already there (same question and answer)
    seconds: float = 0.0


def bulk_create(session: Session, actor: Actor, clock: Clock, items: Sequence[ArticleInput], *,
                publish: bool = True, source: str = "import", refs: Sequence[str | None] | None = None,
                batch: int = 2000) -> ImportReport:
    """Many articles at once (an import, the demo): segmented together, inserted in batches, the word counts
    rebuilt once at the end. Articles with the question and answer of an existing one are skipped."""
    require(actor, Permission.knowledge_review)
    import time

    started = time.perf_counter()
    seen = {(q, a) for q, a in session.execute(select(Article.question, Article.answer))}
    cats: dict[str, int | None] = {}
    areas: dict[str, int | None] = {}
    units: dict[str, int | None] = {}
    now = clock.now()
    created = skipped = 0
    todo = []
    for i, item in enumerate(items):
        _validate(item)
        key = (item.question.strip(), item.answer.strip())
        if key in seen:
            skipped += 1
            continue
        seen.add(key)
        todo.append((item, refs[i] if refs else None))
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        terms = _terms_many([(it.question.strip(), it.answer.strip()) for it, _ in chunk])
        rows = []
        for (item, ref), (qt, at) in zip(chunk, terms, strict=True):
            rows.append({
                "question": item.question.strip(), "answer": item.answer.strip(),
                "category_id": _cached_id(cats, item.category_code, lambda c: _category(session, c)),
                "area_id": _cached_id(areas, item.area_code, lambda c: _area(session, c)),
                "unit_id": _cached_id(units, item.unit_code, lambda c: _unit_by_code(session, c)),
                "valid_from": item.valid_from, "valid_to": item.valid_to, "public": item.public,
                "status": ArticleStatus.published if publish else ArticleStatus.draft,
                "question_terms": qt, "answer_terms": at, "source": source, "source_ref": ref,
                "created_at": now, "created_by": actor.username, "updated_at": now, "updated_by": actor.username,
                "reviewed_at": now if publish else None, "reviewed_by": actor.username if publish else None,
                "review_note": "", "version": 1})
        session.execute(Article.__table__.insert(), rows)
        created += len(rows)
    if created:
        rebuild_index(session, actor)
    return ImportReport(created, skipped, time.perf_counter() - started)


def _cached_id(cache: dict[str, int | None], code: str | None, find) -> int | None:
    if not code:
        return None
    if code not in cache:
        found = find(code)
        cache[code] = found.id if found is not None else None
    return cache[code]


def _unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise UnitNotFound(f"no unit with code {code}", field="unit_code")
    return unit


DEMO_SOURCE = "teddy2020"


def demo_articles(session: Session, limit: int | None = None) -> tuple[list[ArticleInput], list[str]]:
    """Articles from the corpus's messages with official replies (teddy2020/messages_replied.csv, shipped in
    the package): the message's title as the question, the reply without its formulas as the answer, the
    anonymised places made one Beijing district's (each message its own, picked by its number), the
    category the corpus's label guesser names. One in ten is internal (staff only)."""
    districts = list(session.scalars(select(Area).where(Area.level == AreaLevel.district).order_by(Area.code)))
    streets: dict[str, list[Area]] = {}
    for s in session.scalars(select(Area).where(Area.level == AreaLevel.street).order_by(Area.code)):
        streets.setdefault(s.district_code or "", []).append(s)
    if not districts:
        raise InvalidInput("import the places first (jiesu places import)", field="places")
    level1 = {c.name: c.code for c in session.scalars(select(Category).where(Category.level == 1))}
    guesser = load_corpus().guesser
    items, refs = [], []
    for r in read_csv("teddy2020/messages_replied.csv", required=("留言编号", "留言主题", "留言详情", "答复意见")):
        title, body, reply = clean(r["留言主题"]), clean(r["留言详情"]), clean(r["答复意见"])
        if not (title or body) or len(reply) < 20 or not usable(title, body, reply):
            continue
        h = int(hashlib.sha256(r["留言编号"].encode()).hexdigest(), 16)
        district = districts[h % len(districts)]
        pool = streets.get(district.code) or [district]
        street = pool[(h // len(districts)) % len(pool)]
        question = rules.question_from(localise(title, district.name, street.name),
                                       localise(body, district.name, street.name))
        answer_text = rules.answer_from_reply(localise(reply, district.name, street.name))
        if not rules.substantive(answer_text) or len(answer_text) > MAX_ANSWER:
            continue
        label = guesser.guess(title + body)
        replied = r.get("答复时间", "").split(" ")[0]
        try:
            valid_from = datetime.strptime(replied, "%Y/%m/%d").date() if replied else None  # noqa: DTZ007
        except ValueError:
            valid_from = None
        items.append(ArticleInput(question, answer_text, category_code=level1.get(label or ""),
                                  area_code=district.code, valid_from=valid_from, public=h % 10 != 0))
        refs.append(f"{DEMO_SOURCE}:{r['留言编号']}")
        if limit is not None and len(items) >= limit:
            break
    return items, refs


def seed_demo(session: Session, actor: Actor, clock: Clock, limit: int | None = None) -> ImportReport:
    """The demo's knowledge base, from the corpus's replied messages; nothing when it is there already."""
    require(actor, Permission.knowledge_review)
    there = session.scalar(select(func.count()).select_from(Article).where(Article.source == DEMO_SOURCE)) or 0
    if there:
        return ImportReport(0, there)
    items, refs = demo_articles(session, limit)
    return bulk_create(session, actor, clock, items, publish=True, source=DEMO_SOURCE, refs=refs)
