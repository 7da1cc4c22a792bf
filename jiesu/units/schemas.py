from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from jiesu.limits import MAX_NAME, MAX_PASSWORD
from jiesu.permissions import Role
from jiesu.units.models import UnitKind


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: UnitKind
    parent_code: str | None
    area_code: str | None
    area_path: str | None
    department_key: str | None
    phone: str | None
    active: bool

    @classmethod
    def of(cls, unit) -> UnitOut:
        return cls(code=unit.code, name=unit.name, kind=unit.kind,
                   parent_code=unit.parent.code if unit.parent else None,
                   area_code=unit.area.code if unit.area else None, area_path=unit.area.path if unit.area else None,
                   department_key=unit.department_key, phone=unit.phone, active=unit.active)


class UnitPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[UnitOut]


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=MAX_NAME)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class PhoneCodeIn(BaseModel):
    phone: str = Field(min_length=1, max_length=32, description="a mainland mobile number: 11 digits, spaces, "
                       "dashes and +86 allowed")


class PhoneCodeSent(BaseModel):
    phone: str = Field(description="the number as normalised")
    expires_in: int = Field(description="seconds the code is valid")
    resend_in: int = Field(description="seconds before a new code may be asked for")


class PhoneLoginIn(BaseModel):
    phone: str = Field(min_length=1, max_length=32)
    code: str = Field(min_length=1, max_length=16, description="the 6 digits sent to the number")


class UserOut(BaseModel):
    username: str
    display_name: str
    role: Role
    unit_code: str | None
    active: bool

    @classmethod
    def of(cls, user) -> UserOut:
        return cls(username=user.username, display_name=user.display_name, role=user.role,
                   unit_code=user.unit.code if user.unit else None, active=user.active)


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime | None
    user: UserOut
