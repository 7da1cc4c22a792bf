"""A citizen's login by mobile number and one-time code (issue 17): the rules, the codes and the throttle.

- A number is a mainland mobile number: 11 digits, 1[3-9]..., typed with spaces, dashes or +86 as people do.
- request_code: a 6-digit code, sent by the app's CodeSender (jiesu/units/sms.py), kept only as a salted hash
  with its expiry (CODE_TTL) and the wrong codes tried against it. A new code for a number at most once per
  RESEND_INTERVAL, at most PER_NUMBER_HOUR an hour per number and PER_SOURCE_HOUR an hour per client address
  (TooManyAttempts, 429 with Retry-After). It is answered the same whether the number has an account or not.
- login: each code tried is counted before it is compared, in one statement (a burst cannot try more than
  MAX_CODE_ATTEMPTS); the right code is used up; the number's citizen account is logged in, or registered the
  first time. Only citizens log in so: a staff account is never reached by a code, whatever its number.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session, joinedload

from jiesu.clock import Clock
from jiesu.db import execute_apart
from jiesu.errors import AuthenticationFailed, DomainError, InvalidInput, TooManyAttempts
from jiesu.permissions import PHONE_SIGNUP, Role
from jiesu.units import users
from jiesu.units.models import PhoneCode, PhoneCodeSends, User
from jiesu.units.sms import CodeSender

log = logging.getLogger("jiesu.phone")

CODE_LENGTH = 6
CODE_TTL = timedelta(minutes=5)
MAX_CODE_ATTEMPTS = 5  # codes tried against one sent code; the fifth wrong one burns it
RESEND_INTERVAL = timedelta(minutes=1)
SEND_WINDOW = timedelta(hours=1)
PER_NUMBER_HOUR = 5
PER_SOURCE_HOUR = 10
FORGET = timedelta(days=1)  # codes expired and windows ended this long ago are deleted

MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-()（）]")
CODE = re.compile(r"[0-9]{6}")


class CodeNotSent(DomainError):
    """The sender failed: nothing was sent and no code is kept."""

    code = "code_not_sent"
    status = 503


def normalise(raw: str) -> str:
    """'+86 138-1234-5678' -> '13812345678'; anything but a mainland mobile number is InvalidInput on `phone`."""
    s = _SEPARATORS.sub("", (raw or "").strip())
    for prefix in ("+86", "0086", "86"):
        if s.startswith(prefix) and len(s) == len(prefix) + 11:
            s = s[len(prefix):]
            break
    if not MOBILE.fullmatch(s):
        raise InvalidInput("a mobile number is 11 digits starting 13-19, e.g. 138 1234 5678", field="phone")
    return s


def mask(phone: str | None) -> str | None:
    """138****5678: a number as anyone but its owner sees it."""
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def display_name(phone: str) -> str:
    return "市民" + phone[-4:]


def _digest(salt: str, phone: str, code: str) -> str:
    return hmac.new(salt.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _retry(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _count_send(session: Session, now: datetime, key: str, limit: int) -> None:
    """One more send in `key`'s hour, counted atomically (an upsert, like users._begin_attempt); over `limit`,
    TooManyAttempts until the window ends."""
    t = PhoneCodeSends.__table__
    ended = t.c.window_start <= now - SEND_WINDOW
    insert = users._upsert(session)
    stmt = insert(t).values(key=key, window_start=now, sends=1).on_conflict_do_update(
        index_elements=[t.c.key],
        set_={"sends": case((ended, 1), else_=t.c.sends + 1),
              "window_start": case((ended, now), else_=t.c.window_start)},
    ).returning(t.c.sends, t.c.window_start)
    sends, start = execute_apart(session, stmt).one()
    if sends == 1:
        _forget_old(session, now)
    if sends > limit:
        raise TooManyAttempts("too many codes asked for: try again later", retry_after=_retry(start + SEND_WINDOW, now),
                              field="phone")


def _forget_old(session: Session, now: datetime) -> None:
    execute_apart(session, delete(PhoneCodeSends).where(PhoneCodeSends.window_start < now - FORGET))
    execute_apart(session, delete(PhoneCode).where(PhoneCode.expires_at < now - FORGET))


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_LENGTH):0{CODE_LENGTH}d}"


def message(code: str) -> str:
    return f"【接诉即办】您的登录验证码为 {code}，{int(CODE_TTL.total_seconds() // 60)} 分钟内有效。请勿告诉他人。"


def request_code(session: Session, clock: Clock, sender: CodeSender, raw_phone: str, *,
                 source: str = "unknown") -> str:
    """Send a new code to the number (normalised, returned). The caller commits, whatever happens: the sends
    count on SQLite in its transaction (TooManyAttempts included)."""
    phone = normalise(raw_phone)
    now = clock.now()
    last = session.scalar(select(PhoneCode.sent_at).where(PhoneCode.phone == phone))
    if last is not None and now - last < RESEND_INTERVAL:
        raise TooManyAttempts("a new code once a minute: wait before asking again",
                              retry_after=_retry(last + RESEND_INTERVAL, now), field="phone")
    _count_send(session, now, "source:" + (source or "unknown")[: users.MAX_SOURCE], PER_SOURCE_HOUR)
    _count_send(session, now, "phone:" + phone, PER_NUMBER_HOUR)
    code, salt = new_code(), secrets.token_hex(16)
    values = {"code_hash": _digest(salt, phone, code), "salt": salt, "sent_at": now,
              "expires_at": now + CODE_TTL, "attempts": 0}
    t = PhoneCode.__table__
    # Only where the last send is a minute old: of two asking at once, one sends (the other is refused).
    stmt = users._upsert(session)(t).values(phone=phone, **values).on_conflict_do_update(
        index_elements=[t.c.phone], set_=values, where=t.c.sent_at <= now - RESEND_INTERVAL,
    ).returning(t.c.phone)
    if session.execute(stmt).first() is None:
        raise TooManyAttempts("a new code once a minute: wait before asking again",
                              retry_after=_retry(now + RESEND_INTERVAL, now), field="phone")
    try:
        sender.send(phone, message(code))
    except Exception as exc:
        log.exception("the login code for %s could not be sent", mask(phone))
        session.execute(delete(PhoneCode).where(PhoneCode.phone == phone))
        raise CodeNotSent("the code could not be sent: try again in a minute", field="phone") from exc
    session.flush()
    return phone


WRONG = "wrong or expired code: ask for a new one if it is more than 5 minutes old"


def login(session: Session, clock: Clock, raw_phone: str, raw_code: str) -> User:
    """The citizen account of the number, registered the first time, once the code sent to it is given.
    A wrong code counts against the code sent (the caller commits, as for a password login's failure)."""
    phone = normalise(raw_phone)
    code = (raw_code or "").strip()
    if not CODE.fullmatch(code):
        raise InvalidInput(f"the code is the {CODE_LENGTH} digits sent to the number", field="code")
    now = clock.now()
    t = PhoneCode.__table__
    tried = (update(t).where(t.c.phone == phone, t.c.attempts < MAX_CODE_ATTEMPTS, t.c.expires_at > now)
             .values(attempts=t.c.attempts + 1).returning(t.c.code_hash, t.c.salt))
    row = execute_apart(session, tried).first()
    if row is None or not hmac.compare_digest(row.code_hash, _digest(row.salt, phone, code)):
        raise AuthenticationFailed(WRONG, field="code")
    # Used up: of two logins with the same code at once, only the one that deletes it goes on.
    if session.execute(delete(PhoneCode).where(PhoneCode.phone == phone, PhoneCode.code_hash == row.code_hash)
                       ).rowcount != 1:
        raise AuthenticationFailed(WRONG, field="code")
    user = session.scalar(select(User).where(User.phone == phone).options(joinedload(User.unit)))
    if user is None:
        user = register(session, clock, phone)
    elif user.role != Role.citizen:
        raise AuthenticationFailed("this number belongs to a staff account: log in with its username and password",
                                   field="phone")
    elif not user.active:
        raise AuthenticationFailed("this account is deactivated", field="phone")
    user.last_login_at = now
    session.flush()
    return user


def register(session: Session, clock: Clock, phone: str) -> User:
    """A new citizen account for a number: a username not derived from it, no usable password (a random one,
    never told), the number kept to find the account again."""
    while True:
        username = "c" + secrets.token_hex(6)
        if session.scalar(select(User.id).where(User.username == username)) is None:
            break
    user = users.create(session, PHONE_SIGNUP, clock, username=username, password=secrets.token_urlsafe(24),
                        role=Role.citizen, display_name=display_name(phone))
    user.phone = phone
    session.flush()
    log.info("citizen %s registered by phone", username)
    return user
