"""User use cases: accounts, roles, passwords, login and API tokens."""

from __future__ import annotations

import logging
import math
import re
import secrets
import time
from datetime import datetime, timedelta

from sqlalchemy import case, delete, event, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from jiesu.audit import service as audit
from jiesu.clock import Clock
from jiesu.db import execute_apart
from jiesu.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    TooManyAttempts,
    UnitNotFound,
    UserNotFound,
    check_page,
)
from jiesu.permissions import SYSTEM_USERNAMES, Actor, Permission, Role, require
from jiesu.units import auth
from jiesu.units import service as units
from jiesu.units.models import UNIT_BOUND_ROLES, ApiToken, LoginAttempts, UnitKind, User

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")

log = logging.getLogger("jiesu.users")


def actor_of(user: User) -> Actor:
    return Actor(username=user.username, role=user.role, user_id=user.id, unit_id=user.unit_id)


def snapshot(user: User) -> dict[str, object]:
    """A user as the audit keeps it: never the password or its hash."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role.value,
            "unit": user.unit.code if user.unit is not None else None, "active": user.active}


def _check_password(password: str) -> None:
    if len(password) < auth.MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {auth.MIN_PASSWORD_LENGTH} characters", field="password")


# Which kinds of unit a user of each role may belong to. The centre's staff work for the centre
# (or for no unit); a community worker for a community; a handler for any unit that handles tickets.
_HANDLING = frozenset(UnitKind) - {UnitKind.centre}
UNIT_KINDS_FOR_ROLE: dict[Role, frozenset[UnitKind]] = {
    Role.operator: frozenset({UnitKind.centre}),
    Role.dispatcher: frozenset({UnitKind.centre}),
    Role.callback_agent: frozenset({UnitKind.centre}),
    Role.supervisor: frozenset({UnitKind.centre, UnitKind.district_government}),
    Role.unit_handler: _HANDLING,
    Role.community_worker: frozenset({UnitKind.community}),
    Role.admin: frozenset({UnitKind.centre}),
    Role.citizen: frozenset(),
}

# Names of the built-in actors (jiesu.permissions, jiesu.tickets.jobs): no account may take them.
RESERVED_USERNAMES = frozenset({"anonymous"}) | SYSTEM_USERNAMES  # the system's own events are written as these


def _is_self(actor: Actor, user: User) -> bool:
    # By id, not by name: the shell and anonymous visitors have names but no account.
    return actor.user_id is not None and actor.user_id == user.id


def _by_name(username: str):
    return select(User).where(User.username == username).options(joinedload(User.unit))  # UserOut shows its unit


def get(session: Session, actor: Actor, username: str) -> User:
    user = session.scalar(_by_name(username))
    if user is None or not _is_self(actor, user):  # anyone may read their own account
        require(actor, Permission.users_read)
    if user is None:
        raise UserNotFound(f"no user {username}", field="username")
    return user


def create(session: Session, actor: Actor, clock: Clock, *, username: str, password: str, role: Role,
           display_name: str | None = None, unit_code: str | None = None) -> User:
    require(actor, Permission.users_edit)
    if not USERNAME.fullmatch(username):
        raise InvalidInput("a username is 2-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                           field="username")
    if username.lower() in RESERVED_USERNAMES:
        raise InvalidInput(f"{username} is reserved", field="username")
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username} exists already", field="username")
    unit = _unit_for(session, actor, role, unit_code)
    user = User(username=username, display_name=(display_name or "").strip() or username,
                password_hash=auth.hash_password(password), role=role, unit=unit, active=True,
                created_at=clock.now())
    session.add(user)
    session.flush()
    audit.record(session, actor, "user", user.username, "create", None, snapshot(user), at=clock.now())
    return user


def _unit_for(session: Session, actor: Actor, role: Role, unit_code: str | None):
    """The unit a user of `role` is to belong to (None: no unit), checked against the role."""
    unit = None
    if unit_code:
        try:
            unit = units.get(session, actor, unit_code)
        except UnitNotFound as exc:
            raise InvalidInput(str(exc), field="unit_code") from exc
    if role in UNIT_BOUND_ROLES and unit is None:
        raise InvalidInput(f"a {role.value} acts for one unit: give its code", field="unit_code")
    allowed = UNIT_KINDS_FOR_ROLE[role]
    if unit is not None and unit.kind not in allowed:
        kinds = ", ".join(sorted(k.value for k in allowed)) or "none"
        raise InvalidInput(f"a {role.value} cannot belong to a {unit.kind.value} (allowed: {kinds})",
                           field="unit_code")
    return unit


MAX_DISPLAY_NAME = 128


def update(session: Session, actor: Actor, clock: Clock, username: str, *, display_name: str | None = None,
           role: Role | None = None, unit_code: str | None = None) -> User:
    """Change a user's display name, role or unit (unit_code "" : no unit). A new role or unit ends the user's
    sessions and tokens: what they may do has changed."""
    require(actor, Permission.users_edit)
    user = get(session, actor, username)
    before = snapshot(user)
    if display_name is not None:
        name = display_name.strip()
        if not name or len(name) > MAX_DISPLAY_NAME:
            raise InvalidInput(f"a display name is 1 to {MAX_DISPLAY_NAME} characters", field="display_name")
        user.display_name = name
    new_role = role if role is not None else user.role
    if role is not None or unit_code is not None:
        code = unit_code if unit_code is not None else (user.unit.code if user.unit is not None else None)
        unit = _unit_for(session, actor, new_role, code or None)
        if _is_self(actor, user) and new_role != user.role:
            raise InvalidInput("an administrator cannot change their own role", field="role")
        user.role, user.unit = new_role, unit
    after = snapshot(user)
    if after != before:
        if (after["role"], after["unit"]) != (before["role"], before["unit"]):
            _revoke_all(session, user, clock.now())
        session.flush()
        audit.record(session, actor, "user", user.username, "edit", before, after, at=clock.now())
    return user


def lock_count(session: Session, username: str) -> int:
    """How many sources are counting failed logins for this username (0: none; the admin page's "unlock")."""
    return session.scalar(select(func.count()).select_from(LoginAttempts)
                          .where(LoginAttempts.username == username)) or 0


def unlock(session: Session, actor: Actor, clock: Clock, username: str) -> int:
    """Lift the login throttle on a user: forget every source's count of failed logins for the username.
    Returns how many sources were counting."""
    require(actor, Permission.users_edit)
    user = get(session, actor, username)
    sources = lock_count(session, user.username)
    _forget_attempts(session, user.username)
    session.flush()
    audit.record(session, actor, "user", user.username, "unlock", {"login_attempts": sources},
                 {"login_attempts": 0}, at=clock.now())
    return sources


GENERATED_PASSWORD_LENGTH = 12
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I to misread


def generate_password() -> str:
    """A password to give a user by hand (an administrator's reset): readable aloud, no look-alike characters."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


def list_users(session: Session, actor: Actor, *, role: Role | None = None, unit_code: str | None = None,
               q: str | None = None, active: bool | None = None, limit: int = 100,
               offset: int = 0) -> tuple[list[User], int]:
    """Users by username. `q`: a fragment of the username or the display name."""
    require(actor, Permission.users_read)
    check_page(limit, offset)
    stmt = select(User)
    if q:
        stmt = stmt.where(or_(User.username.contains(q, autoescape=True),
                              User.display_name.contains(q, autoescape=True)))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if role:
        stmt = stmt.where(User.role == role)
    if unit_code:
        try:
            stmt = stmt.where(User.unit_id == units.get(session, actor, unit_code).id)
        except UnitNotFound as exc:
            raise InvalidInput(str(exc), field="unit_code") from exc
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return list(session.scalars(stmt.options(joinedload(User.unit)).order_by(User.username).limit(limit)
                                .offset(offset))), total


def set_password(session: Session, actor: Actor, clock: Clock, username: str, password: str) -> User:
    _check_password(password)
    user = session.scalar(_by_name(username))
    if user is None or not _is_self(actor, user):
        require(actor, Permission.users_edit)
    if user is None:
        raise UserNotFound(f"no user {username}", field="username")
    user.password_hash = auth.hash_password(password)
    _forget_attempts(session, user.username)  # a new password (an administrator's reset) lifts every lock
    _revoke_all(session, user, clock.now())  # a new password ends every session and token of the old one
    session.flush()
    # That it changed, never what to (nor its hash): the action says it.
    audit.record(session, actor, "user", user.username, "set_password" if _is_self(actor, user) else "reset_password",
                 at=clock.now())
    return user


def _revoke_all(session: Session, user: User, now: datetime) -> None:
    forget_tokens(session)
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        token.revoked_at = now


def set_active(session: Session, actor: Actor, username: str, active: bool, clock: Clock) -> User:
    """Deactivating a user also revokes every token they hold."""
    require(actor, Permission.users_edit)
    user = get(session, actor, username)
    if not active and _is_self(actor, user):
        raise InvalidInput("an administrator cannot deactivate their own account", field="username")
    was = user.active
    user.active = active
    forget_tokens(session)
    if not active:
        _revoke_all(session, user, clock.now())
    session.flush()
    if was != active:
        audit.record(session, actor, "user", user.username, "reactivate" if active else "deactivate",
                     {"active": was}, {"active": active}, at=clock.now())
    return user


MAX_FAILED_LOGINS = 5  # logins begun in a row from one source for one username, the last one allowed
LOCKOUT = timedelta(minutes=15)
FORGET_ATTEMPTS = timedelta(days=1)  # a count untouched this long is forgotten (_forget_old_attempts)
MAX_SOURCE = 64


def _upsert(session: Session):
    """The dialect's INSERT ... ON CONFLICT (both SQLite and PostgreSQL have it, and RETURNING)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _begin_attempt(session: Session, now: datetime, username: str, source: str) -> tuple[int, datetime | None]:
    """Count one more login begun for (username, source) and return the count and the lock, in one statement
    that the database runs atomically: concurrent attempts each see their own count, so a burst cannot have
    more than MAX_FAILED_LOGINS passwords checked. A lock that has run out starts the count again. On PostgreSQL
    the count commits at once (db.execute_apart), whatever the login's own transaction does next, and no lock is
    held while the password is checked; on SQLite it is the caller's to commit (see authenticate)."""
    t = LoginAttempts.__table__
    ended = t.c.locked_until.is_not(None) & (t.c.locked_until <= now)
    count = case((ended, 1), else_=t.c.attempts + 1)
    insert = _upsert(session)
    stmt = insert(t).values(username=username, source=source, attempts=1, last_at=now,
                            locked_until=now + LOCKOUT if MAX_FAILED_LOGINS <= 1 else None)
    stmt = stmt.on_conflict_do_update(index_elements=[t.c.username, t.c.source], set_={
        "attempts": count, "last_at": now,
        # The attempt that reaches the limit sets the lock; a lock in force stays as it is.
        "locked_until": case((ended | t.c.locked_until.is_(None),
                              case((count >= MAX_FAILED_LOGINS, now + LOCKOUT), else_=None)),
                             else_=t.c.locked_until),
    }).returning(t.c.attempts, t.c.locked_until)
    attempts, locked_until = execute_apart(session, stmt).one()
    return attempts, locked_until


def _forget_attempts(session: Session, username: str, source: str | None = None) -> None:
    stmt = delete(LoginAttempts).where(LoginAttempts.username == username)
    if source is not None:
        stmt = stmt.where(LoginAttempts.source == source)
    session.execute(stmt)


def _forget_old_attempts(session: Session, now: datetime) -> None:
    """Forget the counts nobody has added to for FORGET_ATTEMPTS (a lock runs out long before), so that the table
    keeps no more than a day of guessing: done when a count starts, one delete by the index on last_at."""
    execute_apart(session, delete(LoginAttempts).where(LoginAttempts.last_at < now - FORGET_ATTEMPTS))


def source_of(client: object | None) -> str:
    """The source address a login is counted under: the client's host as the server saw it (uvicorn puts the
    proxy's X-Forwarded-For there when the proxy is trusted: --forwarded-allow-ips)."""
    host = getattr(client, "host", None)
    return str(host)[:MAX_SOURCE] if host else "unknown"


def authenticate(session: Session, clock: Clock, username: str, password: str, *, source: str = "unknown") -> User:
    """Check a username and password given from `source` (the client's address). Every refusal looks the same
    whether the username has an account or not: the same error, the same password hashing, the same count.
    After MAX_FAILED_LOGINS logins in a row from one source for one username without a success, that source is
    refused for that username (TooManyAttempts, 429) for LOCKOUT, whatever the password; other sources are not.

    The attempt is counted in the caller's transaction on SQLite: the caller must commit it even though it
    answers with an error (the API's and the page's login do)."""
    now = clock.now()
    key = (username[:64], (source or "unknown")[:MAX_SOURCE])
    attempts, locked_until = _begin_attempt(session, now, *key)
    if attempts == 1:
        _forget_old_attempts(session, now)
    if attempts > MAX_FAILED_LOGINS and locked_until is not None and locked_until > now:
        raise TooManyAttempts(f"too many failed logins: try again after {locked_until.isoformat()}",
                              retry_after=max(1, math.ceil((locked_until - now).total_seconds())), field="password")
    user = session.scalar(_by_name(username))
    if user is None:
        auth.verify_password(auth.DUMMY_HASH, password)  # spend the same time as a real check
        raise AuthenticationFailed("wrong username or password", field="password")
    if not auth.verify_password(user.password_hash, password) or not user.active:
        raise AuthenticationFailed("wrong username or password", field="password")
    if auth.needs_rehash(user.password_hash):
        user.password_hash = auth.hash_password(password)
    user.last_login_at = now
    _forget_attempts(session, *key)  # a success starts this source's count again
    session.flush()
    return user


WEB_SESSION = timedelta(hours=12)


def start_web_session(session: Session, clock: Clock, user: User) -> str:
    """A page login is a token like any other, so that logout and a password change end it for good."""
    token, _ = issue_token(session, clock, user, name="web", ttl=WEB_SESSION)
    return token


def issue_token(session: Session, clock: Clock, user: User, *, name: str = "api",
                ttl: timedelta | None = timedelta(days=30)) -> tuple[str, ApiToken]:
    """A new bearer token for `user`. The plain token is returned once and never stored."""
    if not user.active:
        raise InvalidInput(f"{user.username} is deactivated: no token", field="username")
    if ttl is not None and ttl <= timedelta(0):
        raise InvalidInput("a token's lifetime must be positive (or None for no expiry)", field="ttl")
    plain = auth.new_token()
    now = clock.now()
    row = ApiToken(user_id=user.id, name=name[:64] or "api", token_hash=auth.token_digest(plain),
                   created_at=now, expires_at=now + ttl if ttl is not None else None)
    session.add(row)
    session.flush()
    return plain, row


# token digest -> (actor, expiry, when cached (monotonic), generation): a token used again within
# JIESU_TOKEN_CACHE_SECONDS is not looked up again. Revoking a token, a new password or deactivating a user
# empties it in this process at once (forget_tokens); other processes see the change within those seconds.
_TOKENS: dict[str, tuple[Actor, datetime | None, float, int]] = {}
_generation = 0


def forget_tokens(session: Session | None = None) -> None:
    """Empty the token cache now and, given the session that revokes, again once it commits: a lookup between
    the two could still read the token as valid and cache it."""
    global _generation
    _generation += 1
    _TOKENS.clear()
    if session is not None:
        session.info["jiesu_forget_tokens"] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop("jiesu_forget_tokens", False):
        forget_tokens()


def cached_actor(token: str, now: datetime, cache_seconds: float) -> Actor | None:
    """The actor of a token checked less than `cache_seconds` ago and not expired since; no I/O."""
    if cache_seconds <= 0:
        return None
    hit = _TOKENS.get(auth.token_digest(token))
    if hit is None:
        return None
    actor, expires_at, at, generation = hit
    if generation != _generation or time.monotonic() - at >= cache_seconds or (expires_at and expires_at <= now):
        return None
    return actor


def actor_for_token(session: Session, clock: Clock, token: str, cache_seconds: float = 0) -> Actor:
    # One statement: every API call pays for this lookup (unless cached_actor answers first).
    digest = auth.token_digest(token)
    generation = _generation
    found = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.token_hash == digest)).first()
    now = clock.now()
    if found is None:
        raise AuthenticationFailed("invalid or expired token", field="Authorization")
    row, user = found
    if row.revoked_at is not None or (row.expires_at and row.expires_at <= now) or not user.active:
        raise AuthenticationFailed("invalid or expired token", field="Authorization")
    # Write last use at most once a minute: a busy client should not turn every read into a write.
    # Apart from the request's transaction (db.execute_apart): a client's requests all touch this row, and a
    # request holding its lock while it waits for a thread would stall every other one that waits for the lock.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        try:
            with session.begin_nested():
                execute_apart(session, sql_update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
            set_committed_value(row, "last_used_at", now)
        except OperationalError:
            # SQLite, in a page's read transaction: another writer (the clock, a step) committed since it began,
            # so it cannot become a write. The last use is a courtesy figure: the next request writes it.
            log.info("last use of token %s left for the next request: the database is busy", row.id)
    actor = actor_of(user)
    if cache_seconds > 0:
        if len(_TOKENS) > 10_000:
            _TOKENS.clear()
        _TOKENS[digest] = (actor, row.expires_at, time.monotonic(), generation)
    return actor


def revoke_token(session: Session, actor: Actor, clock: Clock, token: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == auth.token_digest(token)))
    if row is None:
        raise AuthenticationFailed("unknown token", field="token")
    if row.user_id != actor.user_id:
        require(actor, Permission.users_edit)
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        forget_tokens(session)
    session.flush()


