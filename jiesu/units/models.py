from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu import glossary
from jiesu.db import Base, UTCDateTime
from jiesu.permissions import Role
from jiesu.places.models import Area


class UnitKind(StrEnum):
    centre = "centre"  # 市民热线服务中心: dispatches, reviews returns, assesses
    district_government = "district_government"  # 区政府: receives copies of its streets' tickets
    street = "street"  # 街道/乡镇: the main handling level
    community = "community"  # 社区/村: below a street, e.g. the 花伴儿 app's direct posts
    department = "department"  # 委办局 at city level
    department_branch = "department_branch"  # a department's district branch (区城管执法局 ...)
    utility = "utility"  # water, power, gas, heating, telecom companies
    property_company = "property_company"  # 物业公司 of a residential complex


UNIT_KIND_LABELS = glossary.labels("unit_kind", UnitKind)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[UnitKind] = mapped_column(Enum(UnitKind, native_enum=False, length=32), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    # Area of responsibility: a street for a street office, a district for a branch, the city for a
    # city department, a complex for a property company.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    # Which line department or utility this is (cgzf, zj, water ...), shared by a department and its branches.
    department_key: Mapped[str | None] = mapped_column(String(32), index=True)
    calendar: Mapped[str] = mapped_column(String(32), default="default")
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], lazy="raise")
    area: Mapped[Area | None] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"


ROLE_LABELS = glossary.labels("role", Role)

# Roles that act for one unit and so must be bound to it.
UNIT_BOUND_ROLES = frozenset({Role.unit_handler, Role.community_worker})


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A citizen's mobile number, normalised (jiesu/units/phone.py: 11 digits), set when they register by phone
    # so that their next code login finds them. Personal data: shown only to its owner, masked to anyone else.
    phone: Mapped[str | None] = mapped_column(String(16), unique=True, index=True)

    unit: Mapped[Unit | None] = relationship(lazy="raise")


class LoginAttempts(Base):
    """Password guessing, counted per username *and* source address (users.authenticate): a stranger's guesses
    make only the stranger wait, never the owner at their own place. A username without an account is counted
    like one with, so that the answer never tells which accounts exist. `attempts` counts the logins begun since
    the last success, each counted before its password is checked (so that a burst cannot outrun the count);
    `locked_until` is set by the one that reaches the limit."""

    __tablename__ = "login_attempts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)  # as typed, whether an account or not
    source: Mapped[str] = mapped_column(String(64), primary_key=True)  # the client's address
    attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # for forgetting old rows


class PhoneCode(Base):
    """The one-time login code last sent to a mobile number (jiesu/units/phone.py): one row per number, replaced
    by the next code. Only a salted hash of the code is kept, with its expiry and the wrong codes tried against
    it (MAX_CODE_ATTEMPTS burn it); `sent_at` spaces the sends (at most one a minute per number)."""

    __tablename__ = "phone_codes"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)  # normalised, whether an account or not
    code_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 of the code under `salt`, hex
    salt: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # for forgetting old rows
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # codes tried against this one


class PhoneCodeSends(Base):
    """Codes asked for in the current hour, per number ("phone:138...") and per client address ("source:..."):
    a fixed window that starts with its first send and runs an hour (phone.request_code)."""

    __tablename__ = "phone_code_sends"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sends: Mapped[int] = mapped_column(Integer)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="raise")
