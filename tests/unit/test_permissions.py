"""The role x action table, checked cell by cell against an independent copy of the policy."""

from __future__ import annotations

import itertools

import pytest

from jiesu.errors import PermissionDenied
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Permission, Role, can, require

Y, N = True, False

# Columns: every role by its value, then None for an anonymous visitor (no login).
COLUMNS: tuple[str | None, ...] = (
    "operator", "dispatcher", "unit_handler", "callback_agent", "supervisor", "community_worker", "admin",
    "citizen", None,
)

# The policy, written out by hand. Rows are actions by their value.
#                    oper disp hand call supe comm admi citi anon
EXPECTED: dict[str, tuple[bool, ...]] = {
    "places.read":   (Y,   Y,   Y,   Y,   Y,   Y,   Y,   Y,   Y),
    "places.edit":   (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "units.read":    (Y,   Y,   Y,   Y,   Y,   Y,   Y,   N,   N),
    "units.edit":    (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "users.read":    (N,   N,   N,   N,   Y,   N,   Y,   N,   N),
    "users.edit":    (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "taxonomy.read": (Y,   Y,   Y,   Y,   Y,   Y,   Y,   Y,   Y),
    "taxonomy.edit": (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "calendar.read": (Y,   Y,   Y,   Y,   Y,   Y,   Y,   N,   N),
    "calendar.edit": (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "requests.create": (Y, Y,   N,   N,   N,   N,   Y,   Y,   N),
    "tickets.read":  (Y,   Y,   Y,   Y,   Y,   Y,   Y,   Y,   N),
    "personal_data.read": (Y, Y, N,  Y,   N,   N,   Y,   N,   N),
    "personal_data.audit": (N, N, N, N,   Y,   N,   Y,   N,   N),
    "routing.suggest": (Y, Y,   N,   N,   Y,   N,   Y,   N,   N),
    "routing.edit":  (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "callback.work": (N,   Y,   N,   Y,   N,   N,   Y,   N,   N),
    "assessment.read": (Y, Y,   Y,   Y,   Y,   Y,   Y,   N,   N),
    "assessment.edit": (N, N,   N,   N,   N,   N,   Y,   N,   N),
    "tickets.import": (N,  N,   N,   N,   N,   N,   Y,   N,   N),
    "apikeys.edit":  (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "knowledge.read": (Y,  Y,   Y,   Y,   Y,   Y,   Y,   Y,   Y),
    "knowledge.edit": (N,  N,   Y,   N,   N,   N,   Y,   N,   N),
    "knowledge.review": (N, N,  N,   N,   N,   N,   Y,   N,   N),
    "knowledge.answer": (Y, Y,  N,   N,   N,   N,   Y,   N,   N),
    "knowledge.stats": (Y, Y,   N,   N,   Y,   N,   Y,   N,   N),
    "audit.read":    (N,   N,   N,   N,   N,   N,   Y,   N,   N),
    "hotspot.read":  (N,   Y,   Y,   N,   Y,   Y,   Y,   N,   N),
    "hotspot.manage": (N,  N,   N,   N,   Y,   N,   Y,   N,   N),
    "project.read":  (N,   N,   Y,   N,   Y,   Y,   Y,   N,   N),
    "project.manage": (N,  N,   N,   N,   Y,   N,   Y,   N,   N),
}

ROLES_AND_ANONYMOUS: list[Role | None] = [*Role, None]


def expected(action: Permission, role: Role | None) -> bool:
    return EXPECTED[action.value][COLUMNS.index(role.value if role is not None else None)]


def role_id(role: Role | None) -> str:
    return role.value if role is not None else "anonymous"


def test_every_row_has_a_cell_per_column():
    assert all(len(row) == len(COLUMNS) for row in EXPECTED.values())
    assert len(set(COLUMNS)) == len(COLUMNS)


def test_matrix_covers_every_action():
    # A new Permission that nobody decided on fails here.
    assert set(EXPECTED) == {a.value for a in Permission}


def test_matrix_covers_every_role_and_anonymous():
    # A new Role that nobody decided on fails here.
    assert set(COLUMNS) == {r.value for r in Role} | {None}


@pytest.mark.parametrize(("action", "role"), list(itertools.product(Permission, ROLES_AND_ANONYMOUS)),
                         ids=[f"{a.value}-{role_id(r)}" for a, r in itertools.product(Permission, ROLES_AND_ANONYMOUS)])
def test_cell(action: Permission, role: Role | None):
    want = expected(action, role)
    assert can(role, action) is want
    actor = Actor("someone", role, user_id=1) if role is not None else ANONYMOUS
    if want:
        require(actor, action)  # must not raise
    else:
        with pytest.raises(PermissionDenied) as exc:
            require(actor, action)
        assert action.value in exc.value.message
        assert role_id(role) in exc.value.message


def test_system_is_an_administrator_and_anonymous_has_no_role():
    assert SYSTEM.role is Role.admin
    assert ANONYMOUS.role is None
    assert all(can(SYSTEM.role, a) for a in Permission)
    assert {a for a in Permission if can(ANONYMOUS.role, a)} == {Permission.places_read, Permission.taxonomy_read,
                                                            Permission.knowledge_read}
