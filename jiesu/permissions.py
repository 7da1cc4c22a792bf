"""Who may do what: the one role x action table. Every service function asks it via `require`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jiesu.errors import PermissionDenied


class Role(StrEnum):
    operator = "operator"  # 话务员
    dispatcher = "dispatcher"  # 派单员
    unit_handler = "unit_handler"  # 承办人
    callback_agent = "callback_agent"  # 回访员
    supervisor = "supervisor"  # 考核/督办
    community_worker = "community_worker"  # 社区工作者
    admin = "admin"  # 管理员
    citizen = "citizen"  # 市民


class Permission(StrEnum):
    places_read = "places.read"
    places_edit = "places.edit"
    units_read = "units.read"
    units_edit = "units.edit"
    users_read = "users.read"
    users_edit = "users.edit"
    taxonomy_read = "taxonomy.read"
    taxonomy_edit = "taxonomy.edit"
    calendar_read = "calendar.read"
    calendar_edit = "calendar.edit"
    requests_create = "requests.create"
    tickets_read = "tickets.read"
    personal_data_read = "personal_data.read"  # a citizen's name and phone, unmasked (every read logged)
    personal_data_audit = "personal_data.audit"  # the log of those reads
    routing_suggest = "routing.suggest"  # see smart dispatch's suggestions, its rules and its accuracy
    routing_edit = "routing.edit"  # edit the routing rules table
    callback_work = "callback.work"  # the callback desk: the queue, and recording what the citizen said
    assessment_read = "assessment.read"  # the three rates, rankings and supervision lists
    assessment_edit = "assessment.edit"  # rebuild the assessment's derived tables
    tickets_import = "tickets.import"  # bring historical tickets from an older system
    apikeys_edit = "apikeys.edit"  # issue, list and revoke the Open311 client systems' API keys
    knowledge_read = "knowledge.read"  # search and read the knowledge base (citizens: its public articles)
    knowledge_edit = "knowledge.edit"  # write articles and send them to review (a unit: its own articles)
    knowledge_review = "knowledge.review"  # publish or send back articles, see proposals from replies
    knowledge_answer = "knowledge.answer"  # close an inquiry with a direct answer (直接答复) from the base
    knowledge_stats = "knowledge.stats"  # direct answers against tickets, month by month
    audit_read = "audit.read"  # the administrators' audit of changes to reference data
    hotspot_read = "hotspot.read"  # hot spots and surges (a unit: those of its area)
    hotspot_manage = "hotspot.manage"  # watch, dismiss, acknowledge; run the miner
    project_read = "project.read"  # topics of the month and projects (a unit: those it leads, owns or joins)
    project_manage = "project.manage"  # adopt topics, create projects and move them on


R = Role
STAFF = frozenset({R.operator, R.dispatcher, R.unit_handler, R.callback_agent, R.supervisor,
                   R.community_worker, R.admin})
EVERYONE = STAFF | {R.citizen}

# Reference data a citizen's app shows (where, what kind) is public; who works where is staff-only.
PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.places_read: EVERYONE,
    Permission.places_edit: frozenset({R.admin}),
    Permission.units_read: STAFF,
    Permission.units_edit: frozenset({R.admin}),
    Permission.users_read: frozenset({R.admin, R.supervisor}),
    Permission.users_edit: frozenset({R.admin}),
    Permission.taxonomy_read: EVERYONE,
    Permission.taxonomy_edit: frozenset({R.admin}),
    Permission.calendar_read: STAFF,
    Permission.calendar_edit: frozenset({R.admin}),
    # A citizen files their own requests; operators type the calls; the centre files on others' behalf.
    Permission.requests_create: frozenset({R.operator, R.dispatcher, R.citizen, R.admin}),
    # Units see the tickets that concern them (the service narrows the list); citizens their own.
    Permission.tickets_read: EVERYONE,
    # Who calls citizens back or took the call needs the real number; units work with it masked.
    Permission.personal_data_read: frozenset({R.operator, R.dispatcher, R.callback_agent, R.admin}),
    Permission.personal_data_audit: frozenset({R.admin, R.supervisor}),
    # The centre's desk works with the suggestions; units get the dispatcher's decision, not the machine's.
    Permission.routing_suggest: frozenset({R.operator, R.dispatcher, R.supervisor, R.admin}),
    Permission.routing_edit: frozenset({R.admin}),
    Permission.callback_work: frozenset({R.callback_agent, R.dispatcher, R.admin}),
    # Rankings are published inside the government: every unit sees where it stands and why.
    Permission.assessment_read: STAFF,
    Permission.assessment_edit: frozenset({R.admin}),
    Permission.tickets_import: frozenset({R.admin}),
    Permission.apikeys_edit: frozenset({R.admin}),
    Permission.audit_read: frozenset({R.admin}),
    # The public part of the knowledge base is for everyone, without a login (the app's search); the service
    # shows staff the internal articles too. Departments write the articles of their field; the centre reviews.
    Permission.knowledge_read: EVERYONE,
    Permission.knowledge_edit: frozenset({R.unit_handler, R.admin}),
    Permission.knowledge_review: frozenset({R.admin}),
    Permission.knowledge_answer: frozenset({R.operator, R.dispatcher, R.admin}),
    Permission.knowledge_stats: frozenset({R.operator, R.dispatcher, R.supervisor, R.admin}),
    # Proactive governance: the centre's supervisors decide; a street or department sees its own area's.
    Permission.hotspot_read: frozenset({R.supervisor, R.admin, R.dispatcher, R.unit_handler, R.community_worker}),
    Permission.hotspot_manage: frozenset({R.supervisor, R.admin}),
    # The centre's supervisors choose the topics and projects; the units that carry them out read theirs (the
    # service narrows a unit to its own) and report progress on the projects they own.
    Permission.project_read: frozenset({R.supervisor, R.admin, R.unit_handler, R.community_worker}),
    Permission.project_manage: frozenset({R.supervisor, R.admin}),
}

# Actions an anonymous visitor (no login) may take.
PUBLIC_PERMISSIONS = frozenset({Permission.places_read, Permission.taxonomy_read, Permission.knowledge_read})


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, the shell (system), or an anonymous visitor (role None)."""

    username: str
    role: Role | None
    user_id: int | None = None
    unit_id: int | None = None


# The CLI runs as the administrator: whoever holds the shell holds the database anyway.
SYSTEM = Actor(username="system", role=Role.admin)
ANONYMOUS = Actor(username="anonymous", role=None)
# The scheduler's steps (overdue, escalation, callback queue, expiry) are taken as "clock".
CLOCK = Actor(username="clock", role=Role.admin)
# Smart dispatch's worker: the suggestion made after intake (routing.service).
SMART_DISPATCH = Actor(username="smart-dispatch", role=Role.admin)
# A citizen's first phone-code login registers their account (units.phone): the audit says so, not "system".
PHONE_SIGNUP = Actor(username="phone-signup", role=Role.admin)
# The actors that are the system, not a person: their events show as "系统" (System), whatever role they act in.
# No user may take one of these names (units.users.RESERVED_USERNAMES).
SYSTEM_USERNAMES = frozenset({SYSTEM.username, CLOCK.username, SMART_DISPATCH.username, PHONE_SIGNUP.username})


def is_system(username: str | None) -> bool:
    """Whether an event's actor is the system (the CLI, the clock, smart dispatch's worker), not a person."""
    return username in SYSTEM_USERNAMES


def can(role: Role | None, action: Permission) -> bool:
    if role is None:
        return action in PUBLIC_PERMISSIONS
    return role in PERMISSIONS[action]


def require(actor: Actor, action: Permission) -> None:
    if not can(actor.role, action):
        who = actor.role.value if actor.role else "anonymous"
        raise PermissionDenied(f"role {who} may not {action.value}")
