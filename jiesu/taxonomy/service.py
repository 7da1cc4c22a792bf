"""Category tree and deadline policy use cases."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from jiesu.audit import service as audit
from jiesu.clock import Clock
from jiesu.data import DATA_DIR, read_csv
from jiesu.db import ReferenceCache
from jiesu.errors import CategoryNotFound, DataSourceError, InvalidInput, NotFound
from jiesu.permissions import Actor, Permission, require
from jiesu.taxonomy.models import DEFAULT_SCOPE, Category, DeadlinePolicy, Urgency
from jiesu.taxonomy.rules import ReplyUnit

DEFAULT_SOURCE = DATA_DIR / "teddy2020" / "categories.csv"
LEVEL_COLUMNS = ("一级分类", "二级分类", "三级分类")
CODE_WIDTH = {1: 2, 2: 2, 3: 3}


@dataclass
class TaxonomyImportReport:
    levels: dict[int, int]  # nodes per level in the file
    inserted: int
    existing: int


def import_tree(session: Session, actor: Actor, source: Path | None = None) -> TaxonomyImportReport:
    """Load a 3-level tree from a CSV with columns 一级分类, 二级分类, 三级分类. Nodes are keyed by path,
    so a re-import adds what is new and keeps every code that was handed out."""
    require(actor, Permission.taxonomy_edit)
    source = Path(source) if source else DEFAULT_SOURCE
    rows = read_csv(source, required=LEVEL_COLUMNS)
    by_path = {c.path: c for c in session.scalars(select(Category))}
    children_count: dict[int | None, int] = {}
    for c in by_path.values():
        children_count[c.parent_id] = children_count.get(c.parent_id, 0) + 1
    seen: dict[int, set[str]] = {1: set(), 2: set(), 3: set()}
    inserted = 0
    for line, row in enumerate(rows, start=2):
        names = [(row.get(col) or "").strip() for col in LEVEL_COLUMNS]
        names = names[: next((i for i, n in enumerate(names) if not n), 3)]
        if not names:
            raise DataSourceError(f"{source.name} line {line}: no category name", field="source")
        parent: Category | None = None
        for level, name in enumerate(names, start=1):
            path = "/".join(names[:level])
            seen[level].add(path)
            node = by_path.get(path)
            if node is None:
                key = parent.id if parent else None
                n = children_count.get(key, 0) + 1
                children_count[key] = n
                code = (f"{parent.code}." if parent else "") + str(n).zfill(CODE_WIDTH[level])
                node = Category(code=code, name=name, level=level, parent=parent, path=path, active=True)
                session.add(node)
                session.flush()
                by_path[path] = node
                inserted += 1
            parent = node
    return TaxonomyImportReport(levels={k: len(v) for k, v in seen.items()}, inserted=inserted,
                                existing=len(by_path) - inserted)


def get(session: Session, actor: Actor, code: str) -> Category:
    require(actor, Permission.taxonomy_read)
    return category_by_code(session, code)


def category_by_code(session: Session, code: str) -> Category:
    """The category with this code, for the services below the use cases: no actor, no permission to check."""
    cat = session.scalar(select(Category).where(Category.code == code).options(joinedload(Category.parent)))
    if cat is None:
        raise CategoryNotFound(f"no category with code {code}", field="code")
    return cat


def list_categories(session: Session, actor: Actor, *, parent_code: str | None = None, level: int | None = None,
                    q: str | None = None, include_inactive: bool = False) -> list[Category]:
    require(actor, Permission.taxonomy_read)
    stmt = select(Category)
    if include_inactive:
        require(actor, Permission.taxonomy_edit)  # what was taken out of use is the administrators' business
    else:
        stmt = stmt.where(Category.active.is_(True))
    if parent_code:
        try:
            stmt = stmt.where(Category.parent_id == get(session, actor, parent_code).id)
        except CategoryNotFound as exc:
            raise InvalidInput(str(exc), field="parent_code") from exc
    if level is not None:
        if level not in (1, 2, 3):
            raise InvalidInput("level must be 1, 2 or 3", field="level")
        stmt = stmt.where(Category.level == level)
    if q:
        stmt = stmt.where(or_(Category.name.contains(q, autoescape=True), Category.path.contains(q, autoescape=True)))
    return list(session.scalars(stmt.options(joinedload(Category.parent)).order_by(Category.code)))


NAME_MAX = 64  # Category.name


def category_snapshot(c: Category) -> dict:
    return {"code": c.code, "name": c.name, "level": c.level, "parent": c.code.rpartition(".")[0] or None,
            "path": c.path, "active": c.active}


def _check_name(session: Session, name: str, parent: Category | None, own_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("a category needs its name", field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"name has at most {NAME_MAX} characters", field="name")
    if "/" in name:
        raise InvalidInput("a category name has no '/' (it separates the levels of a path)", field="name")
    path = f"{parent.path}/{name}" if parent else name
    if len(path) > 256:
        raise InvalidInput("the path of this category would be longer than 256 characters", field="name")
    clash = session.scalar(select(Category.id).where(Category.path == path))
    if clash is not None and clash != own_id:
        raise InvalidInput(f"{path} exists already", field="name")
    return name


def create_category(session: Session, actor: Actor, clock: Clock, name: str,
                    parent_code: str | None = None) -> Category:
    """A new category under `parent_code` (none: a new top level), coded after its last sibling."""
    require(actor, Permission.taxonomy_edit)
    parent = None
    if parent_code:
        parent = session.scalar(select(Category).where(Category.code == parent_code.strip()))
        if parent is None:
            raise InvalidInput(f"no category with code {parent_code}", field="parent_code")
        if parent.level >= 3:
            raise InvalidInput("the tree has three levels: a third-level category has no children",
                               field="parent_code")
        if not parent.active:
            raise InvalidInput(f"{parent.code} is deactivated", field="parent_code")
    name = _check_name(session, name, parent)
    level = parent.level + 1 if parent else 1
    siblings = session.scalars(select(Category.code).where(
        Category.parent_id == parent.id if parent else Category.parent_id.is_(None)))
    last = max((int(c.rpartition(".")[2]) for c in siblings if c.rpartition(".")[2].isdigit()), default=0)
    code = (f"{parent.code}." if parent else "") + str(last + 1).zfill(CODE_WIDTH[level])
    node = Category(code=code, name=name, level=level, parent_id=parent.id if parent else None,
                    path=f"{parent.path}/{name}" if parent else name, active=True)
    session.add(node)
    session.flush()
    audit.record(session, actor, "category", code, "create", None, category_snapshot(node), at=clock.now())
    return node


def update_category(session: Session, actor: Actor, clock: Clock, code: str, *, name: str | None = None,
                    active: bool | None = None) -> Category:
    """Rename a category (the paths under it follow) or take it out of use (active=False: no new ticket is
    classified in it, the tickets that are keep it). A category with active children is not deactivated."""
    require(actor, Permission.taxonomy_edit)
    node = session.scalar(select(Category).where(Category.code == code))
    if node is None:
        raise CategoryNotFound(f"no category with code {code}", field="code")
    before = category_snapshot(node)
    parent = session.get(Category, node.parent_id) if node.parent_id is not None else None
    if name is not None and name.strip() != node.name:
        name = _check_name(session, name, parent, node.id)
        old_path, new_path = node.path, f"{parent.path}/{name}" if parent else name
        for child in session.scalars(select(Category).where(Category.path.startswith(old_path + "/",
                                                                                     autoescape=True))):
            child.path = new_path + child.path[len(old_path):]
        node.name, node.path = name, new_path
    if active is not None and active != node.active:
        if not active and session.scalar(select(func.count()).select_from(Category).where(
                Category.parent_id == node.id, Category.active.is_(True))):
            raise InvalidInput("deactivate its active sub-categories first", field="active")
        if active and parent is not None and not parent.active:
            raise InvalidInput(f"its parent {parent.code} is deactivated", field="active")
        node.active = active
    session.flush()
    after = category_snapshot(node)
    if after != before:
        action = "rename" if after["name"] != before["name"] else "activate" if node.active else "deactivate"
        audit.record(session, actor, "category", code, action, before, after, at=clock.now())
    return node


def counts(session: Session, actor: Actor) -> dict[int, int]:
    require(actor, Permission.taxonomy_read)
    out = {1: 0, 2: 0, 3: 0}
    out.update(dict(session.execute(select(Category.level, func.count()).group_by(Category.level)).all()))
    return out


# --- deadline policies ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicySpec:
    dispatch_within_hours: float
    sign_within_hours: float
    reply_within: float
    reply_unit: ReplyUnit
    note: str = ""


# Reported Beijing practice (MISSION.md): units sign at once around the clock; first feedback within
# 2 hours for emergencies, 24 hours for water, power, gas and heating, 7 days for ordinary requests
# and 15 for complex ones; dispatch within an hour or two for the urgent kinds. Administrators edit these.
DEFAULT_POLICIES: dict[Urgency, PolicySpec] = {
    Urgency.emergency: PolicySpec(1, 0.5, 2, ReplyUnit.hours, "紧急诉求：2小时内反馈"),
    Urgency.normal: PolicySpec(2, 1, 7, ReplyUnit.business_days, "一般诉求：7个工作日内办结"),
    Urgency.complex: PolicySpec(2, 1, 15, ReplyUnit.business_days, "疑难诉求：15个工作日内办结"),
}
UTILITY_CATEGORY_NAMES = ("自来水供应", "电力供应", "燃气供应", "冬季采暖", "通信保障")
UTILITY_POLICY = PolicySpec(1, 1, 24, ReplyUnit.hours, "水电气热通信：24小时内反馈")
# Urgencies that utilities answer within UTILITY_POLICY: a complex gas leak must not get 15 business
# days just because it is complex; an emergency keeps the 2-hour default.
UTILITY_URGENCIES = (Urgency.normal, Urgency.complex)


def _validate(spec: PolicySpec) -> None:
    if len(spec.note) > 256:
        raise InvalidInput("note has at most 256 characters", field="note")
    for name in ("dispatch_within_hours", "sign_within_hours", "reply_within"):
        value = getattr(spec, name)
        if not value > 0:
            raise InvalidInput(f"{name} must be more than 0", field=name)
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number", field=name)
    if spec.reply_unit == ReplyUnit.hours and spec.reply_within < spec.sign_within_hours:
        raise InvalidInput("reply_within must not be shorter than sign_within_hours: a unit cannot answer "
                           "before it has signed", field="reply_within")
    if spec.reply_unit == ReplyUnit.business_days and spec.reply_within > 366:
        raise InvalidInput("reply_within of more than 366 business days is surely a typo", field="reply_within")


def set_policy(session: Session, actor: Actor, clock: Clock, scope: str, urgency: Urgency,
               spec: PolicySpec) -> DeadlinePolicy:
    require(actor, Permission.taxonomy_edit)
    _validate(spec)
    if scope != DEFAULT_SCOPE:
        try:
            get(session, actor, scope)
        except CategoryNotFound as exc:
            raise InvalidInput(f"scope must be '*' or a category code: {exc}", field="scope") from exc
    row = session.scalar(select(DeadlinePolicy).where(DeadlinePolicy.scope == scope,
                                                      DeadlinePolicy.urgency == urgency))
    before = policy_snapshot(row) if row is not None else None
    if row is None:
        row = DeadlinePolicy(scope=scope, urgency=urgency)
        session.add(row)
    row.dispatch_within_hours = spec.dispatch_within_hours
    row.sign_within_hours = spec.sign_within_hours
    row.reply_within = spec.reply_within
    row.reply_unit = spec.reply_unit
    row.note = spec.note
    row.updated_at = clock.now()
    row.updated_by = actor.username
    session.flush()
    _POLICY_HOURS.clear()  # this process's next intake reads the policy again
    after = policy_snapshot(row)
    if before != after:
        audit.record(session, actor, "policy", policy_key(scope, urgency), "set" if before else "create",
                     before, after, at=row.updated_at)
    return row


def policy_key(scope: str, urgency: Urgency) -> str:
    """How the audit names a policy: scope:urgency, e.g. *:normal or 01.02:emergency."""
    return f"{scope}:{urgency.value}"


def policy_snapshot(row: DeadlinePolicy) -> dict:
    return {"scope": row.scope, "urgency": row.urgency.value, "dispatch_within_hours": row.dispatch_within_hours,
            "sign_within_hours": row.sign_within_hours, "reply_within": row.reply_within,
            "reply_unit": row.reply_unit.value, "note": row.note}


def seed_default_policies(session: Session, actor: Actor, clock: Clock) -> int:
    """Write the default policies where none is set yet; an administrator's edits are kept."""
    require(actor, Permission.taxonomy_edit)
    have = set(session.execute(select(DeadlinePolicy.scope, DeadlinePolicy.urgency)))
    written = 0
    wanted: list[tuple[str, Urgency, PolicySpec]] = [(DEFAULT_SCOPE, u, s) for u, s in DEFAULT_POLICIES.items()]
    for cat in session.scalars(select(Category).where(Category.name.in_(UTILITY_CATEGORY_NAMES))):
        wanted += [(cat.code, urgency, UTILITY_POLICY) for urgency in UTILITY_URGENCIES]
    for scope, urgency, spec in wanted:
        if (scope, urgency) not in have:
            set_policy(session, actor, clock, scope, urgency, spec)
            written += 1
    return written


def list_policies(session: Session, actor: Actor) -> list[DeadlinePolicy]:
    require(actor, Permission.taxonomy_read)
    return list(session.scalars(select(DeadlinePolicy).order_by(DeadlinePolicy.scope, DeadlinePolicy.urgency)))


def _scopes(code: str | None) -> Iterable[str]:
    """Most specific first: 01.02.003, 01.02, 01, *."""
    if code:
        parts = code.split(".")
        for i in range(len(parts), 0, -1):
            yield ".".join(parts[:i])
    yield DEFAULT_SCOPE


_POLICY_HOURS = ReferenceCache(ttl=60)


def dispatch_within_hours(session: Session, category_code: str | None, urgency: Urgency) -> float:
    """resolve_policy's dispatch hours, at intake's price: two columns, kept a minute per process (db.
    ReferenceCache; a changed policy applies to new tickets within a minute). The category is known to exist."""
    scopes = tuple(_scopes(category_code))

    def load() -> dict[str, float] | None:
        return dict(session.connection().execute(
            select(DeadlinePolicy.scope, DeadlinePolicy.dispatch_within_hours)
            .where(DeadlinePolicy.scope.in_(scopes), DeadlinePolicy.urgency == urgency)).all()) or None

    rows = _POLICY_HOURS.get(session, (scopes, urgency), load) or {}
    for scope in scopes:
        if scope in rows:
            return rows[scope]
    raise NotFound(f"no deadline policy for urgency {urgency.value}: run `jiesu taxonomy seed-policies`",
                   field="urgency")


def resolve_policy(session: Session, actor: Actor, category_code: str | None, urgency: Urgency) -> DeadlinePolicy:
    """The policy that governs a ticket of this category and urgency."""
    require(actor, Permission.taxonomy_read)
    if category_code:
        category_by_code(session, category_code)
    return policy_for(session, category_code, urgency)


def policy_for(session: Session, category_code: str | None, urgency: Urgency) -> DeadlinePolicy:
    """resolve_policy for the services below the use cases (a workflow step setting deadlines): no actor, and the
    category is known to exist."""
    scopes = list(_scopes(category_code))
    rows = {p.scope: p for p in session.scalars(select(DeadlinePolicy).where(DeadlinePolicy.scope.in_(scopes),
                                                                             DeadlinePolicy.urgency == urgency))}
    for scope in scopes:
        if scope in rows:
            return rows[scope]
    raise NotFound(f"no deadline policy for urgency {urgency.value}: run `jiesu taxonomy seed-policies`",
                   field="urgency")
