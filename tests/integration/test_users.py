"""Users: accounts, roles, passwords, login, tokens, and who may manage them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from jiesu.errors import AuthenticationFailed, Conflict, InvalidInput, PermissionDenied, UserNotFound
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Role
from jiesu.units import auth, users
from jiesu.units import service as units
from jiesu.units.models import UNIT_BOUND_ROLES, ApiToken, User

PASSWORD = "s3cret-pass"
GUANYINSI = "110115009000"  # 观音寺街道办事处
GUANYINSI_COMMUNITY = "110115009006"

REAL_HASHER = auth._hasher
# Still argon2id through the same code, but about 1 ms a hash instead of 50-100: these tests hash a lot.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", CHEAP_HASHER)


@pytest.fixture
def real_argon2(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", REAL_HASHER)


def make(session, clock, username: str, role: Role = Role.operator, unit_code: str | None = None,
         password: str = PASSWORD) -> User:
    return users.create(session, SYSTEM, clock, username=username, password=password, role=role, unit_code=unit_code)


def n_users(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


# -- creating ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", list(Role))
def test_create_a_user_of_each_role(session, clock, role):
    unit_code = GUANYINSI_COMMUNITY if role == Role.community_worker else GUANYINSI if role in UNIT_BOUND_ROLES \
        else None
    user = users.create(session, SYSTEM, clock, username=f"u-{role.value}", password=PASSWORD, role=role,
                        unit_code=unit_code, display_name=" 张三 ")
    assert (user.username, user.display_name, user.role, user.active) == (f"u-{role.value}", "张三", role, True)
    assert user.created_at == clock.now()
    assert user.last_login_at is None
    assert (user.unit.code if user.unit else None) == unit_code
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert users.get(session, SYSTEM, f"u-{role.value}").id == user.id


def test_production_parameters_hash_and_verify(session, clock, real_argon2):
    user = make(session, clock, "alice")
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,")
    assert users.authenticate(session, clock, "alice", PASSWORD).id == user.id
    with pytest.raises(AuthenticationFailed):
        users.authenticate(session, clock, "alice", "wrong-password")


def test_a_weak_hash_is_upgraded_at_the_next_login(session, clock, monkeypatch):
    user = make(session, clock, "alice")  # with the cheap parameters
    cheap = user.password_hash
    assert cheap.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    monkeypatch.setattr(auth, "_hasher", REAL_HASHER)
    users.authenticate(session, clock, "alice", PASSWORD)
    assert user.password_hash != cheap
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,")
    assert auth.verify_password(user.password_hash, PASSWORD)
    with pytest.raises(AuthenticationFailed):  # a wrong password upgrades nothing
        users.authenticate(session, clock, "alice", "wrong-password")


def test_display_name_defaults_to_the_username(session, clock):
    assert make(session, clock, "li.si").display_name == "li.si"


def test_a_staff_member_may_belong_to_a_unit_without_having_to(session, clock):
    user = make(session, clock, "disp1", Role.dispatcher, unit_code="12345")
    assert user.unit.code == "12345"


@pytest.mark.parametrize("role", sorted(UNIT_BOUND_ROLES))
@pytest.mark.parametrize("unit_code", [None, ""])
def test_unit_bound_roles_need_a_unit(session, clock, role, unit_code):
    before = n_users(session)
    with pytest.raises(InvalidInput) as exc:
        make(session, clock, "handler1", role, unit_code=unit_code)
    assert exc.value.field == "unit_code"
    assert n_users(session) == before


@pytest.mark.parametrize("role", [Role.unit_handler, Role.operator])
def test_unknown_unit_code(session, clock, role):
    with pytest.raises(InvalidInput) as exc:
        make(session, clock, "handler1", role, unit_code="no-such-unit")
    assert exc.value.field == "unit_code"


@pytest.mark.parametrize("username", [
    "", "a", "-alice", "_alice", ".alice", "alice bob", "alice/x", "alice@example", "张三", "a" * 65,
    "alice\n", "\nalice", " alice",
])
def test_bad_username(session, clock, username):
    before = n_users(session)
    with pytest.raises(InvalidInput) as exc:
        make(session, clock, username)
    assert exc.value.field == "username"
    assert n_users(session) == before


def test_username_edges_are_allowed(session, clock):
    assert make(session, clock, "ab").username == "ab"
    assert make(session, clock, "9" + "x" * 63).username == "9" + "x" * 63
    assert make(session, clock, "Wang_Wu-2.0").username == "Wang_Wu-2.0"


@pytest.mark.parametrize("password", ["", "1234567", "short"])
def test_short_password(session, clock, password):
    with pytest.raises(InvalidInput) as exc:
        make(session, clock, "alice", password=password)
    assert exc.value.field == "password"


def test_eight_characters_are_enough(session, clock):
    make(session, clock, "alice", password="12345678")
    assert users.authenticate(session, clock, "alice", "12345678").username == "alice"


def test_duplicate_username(session, clock):
    make(session, clock, "alice")
    with pytest.raises(Conflict) as exc:
        make(session, clock, "alice", Role.dispatcher)
    assert exc.value.field == "username"
    assert n_users(session) == 1


@pytest.mark.parametrize("role", [Role.operator, Role.supervisor, Role.dispatcher, Role.citizen, None])
def test_only_an_administrator_creates_users(session, clock, role):
    actor = Actor("boss", role, user_id=1) if role else ANONYMOUS
    with pytest.raises(PermissionDenied):
        users.create(session, actor, clock, username="alice", password=PASSWORD, role=Role.operator)
    assert n_users(session) == 0


# -- logging in --------------------------------------------------------------------------------------------------

def test_authenticate(session, clock):
    make(session, clock, "alice")
    clock.advance(timedelta(hours=3))
    user = users.authenticate(session, clock, "alice", PASSWORD)
    assert user.username == "alice"
    assert user.last_login_at == clock.now()
    session.expire_all()
    assert session.scalar(select(User.last_login_at).where(User.username == "alice")) == clock.now()


def test_failed_logins_look_the_same(session, clock):
    make(session, clock, "alice")
    make(session, clock, "bob")
    users.set_active(session, SYSTEM, "bob", False, clock)
    errors = []
    for username, password in [("alice", "wrong-password"), ("nobody", PASSWORD), ("bob", PASSWORD),
                               ("alice", PASSWORD.upper()), ("ALICE", PASSWORD)]:
        with pytest.raises(AuthenticationFailed) as exc:
            users.authenticate(session, clock, username, password)
        errors.append((type(exc.value), exc.value.message, exc.value.field))
    assert len(set(errors)) == 1
    assert session.scalar(select(func.count()).select_from(User).where(User.last_login_at.is_not(None))) == 0


def test_inactive_user_cannot_log_in_until_reactivated(session, clock):
    make(session, clock, "alice")
    users.set_active(session, SYSTEM, "alice", False, clock)
    with pytest.raises(AuthenticationFailed):
        users.authenticate(session, clock, "alice", PASSWORD)
    users.set_active(session, SYSTEM, "alice", True, clock)
    assert users.authenticate(session, clock, "alice", PASSWORD).active is True


# -- tokens ------------------------------------------------------------------------------------------------------

def test_token_gives_the_users_actor(session, clock):
    user = make(session, clock, "handler1", Role.unit_handler, unit_code=GUANYINSI)
    plain, row = users.issue_token(session, clock, user)
    assert plain.startswith(auth.TOKEN_PREFIX)
    assert row.token_hash == auth.token_digest(plain) != plain
    assert row.expires_at == clock.now() + timedelta(days=30)
    actor = users.actor_for_token(session, clock, plain)
    assert actor == Actor("handler1", Role.unit_handler, user_id=user.id,
                          unit_id=units.get(session, SYSTEM, GUANYINSI).id)
    assert row.last_used_at == clock.now()


def test_last_use_is_written_at_most_once_a_minute(session, clock):
    plain, row = users.issue_token(session, clock, make(session, clock, "alice"))
    users.actor_for_token(session, clock, plain)
    first = clock.now()
    clock.advance(timedelta(seconds=30))
    users.actor_for_token(session, clock, plain)
    assert row.last_used_at == first
    clock.advance(timedelta(seconds=31))
    users.actor_for_token(session, clock, plain)
    assert row.last_used_at == clock.now()


def test_each_token_is_new(session, clock):
    user = make(session, clock, "alice")
    a, _ = users.issue_token(session, clock, user)
    b, _ = users.issue_token(session, clock, user)
    assert a != b
    assert users.actor_for_token(session, clock, a) == users.actor_for_token(session, clock, b)


@pytest.mark.parametrize("token", ["", "jsu_", "jsu_not-a-token", "Bearer x"])
def test_unknown_token(session, clock, token):
    with pytest.raises(AuthenticationFailed) as exc:
        users.actor_for_token(session, clock, token)
    assert exc.value.field == "Authorization"


def test_expired_token(session, clock):
    plain, _ = users.issue_token(session, clock, make(session, clock, "alice"), ttl=timedelta(hours=1))
    clock.advance(timedelta(minutes=59))
    assert users.actor_for_token(session, clock, plain).username == "alice"
    clock.advance(timedelta(minutes=1))
    with pytest.raises(AuthenticationFailed):
        users.actor_for_token(session, clock, plain)


def test_expired_by_default_after_thirty_days(session, clock):
    plain, _ = users.issue_token(session, clock, make(session, clock, "alice"))
    clock.advance(timedelta(days=30, seconds=1))
    with pytest.raises(AuthenticationFailed):
        users.actor_for_token(session, clock, plain)


def test_token_without_ttl_does_not_expire(session, clock):
    plain, row = users.issue_token(session, clock, make(session, clock, "alice"), ttl=None)
    assert row.expires_at is None
    clock.advance(timedelta(days=3650))
    assert users.actor_for_token(session, clock, plain).username == "alice"


def test_revoked_token(session, clock):
    user = make(session, clock, "alice")
    plain, row = users.issue_token(session, clock, user)
    other, _ = users.issue_token(session, clock, user)
    users.revoke_token(session, users.actor_of(user), clock, plain)
    assert row.revoked_at == clock.now()
    with pytest.raises(AuthenticationFailed):
        users.actor_for_token(session, clock, plain)
    assert users.actor_for_token(session, clock, other).username == "alice"  # only that one


def test_only_the_holder_or_an_administrator_revokes_a_token(session, clock):
    plain, row = users.issue_token(session, clock, make(session, clock, "alice"))
    mallory = make(session, clock, "mallory", Role.supervisor)
    with pytest.raises(PermissionDenied):
        users.revoke_token(session, users.actor_of(mallory), clock, plain)
    assert row.revoked_at is None
    users.revoke_token(session, SYSTEM, clock, plain)
    assert row.revoked_at == clock.now()


def test_deactivating_revokes_every_token(session, clock):
    alice = make(session, clock, "alice")
    bob = make(session, clock, "bob")
    a1, r1 = users.issue_token(session, clock, alice)
    a2, r2 = users.issue_token(session, clock, alice, ttl=None)
    b1, _ = users.issue_token(session, clock, bob)
    clock.advance(timedelta(minutes=5))
    users.set_active(session, SYSTEM, "alice", False, clock)
    assert r1.revoked_at == r2.revoked_at == clock.now()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == alice.id, ApiToken.revoked_at.is_(None))) == 0
    for token in (a1, a2):
        with pytest.raises(AuthenticationFailed):
            users.actor_for_token(session, clock, token)
    assert users.actor_for_token(session, clock, b1).username == "bob"
    # Coming back does not bring the old tokens back.
    users.set_active(session, SYSTEM, "alice", True, clock)
    for token in (a1, a2):
        with pytest.raises(AuthenticationFailed):
            users.actor_for_token(session, clock, token)
    fresh, _ = users.issue_token(session, clock, alice)
    assert users.actor_for_token(session, clock, fresh) == users.actor_of(alice)


def test_deactivated_user_loses_the_page_login(session, clock):
    alice = make(session, clock, "alice")
    web = users.start_web_session(session, clock, alice)
    assert users.actor_for_token(session, clock, web).username == "alice"
    users.set_active(session, SYSTEM, "alice", False, clock)
    with pytest.raises(AuthenticationFailed):
        users.actor_for_token(session, clock, web)


def test_page_login_lasts_twelve_hours(session, clock):
    web = users.start_web_session(session, clock, make(session, clock, "alice"))
    clock.advance(timedelta(hours=11, minutes=59))
    users.actor_for_token(session, clock, web)
    clock.advance(timedelta(minutes=2))
    with pytest.raises(AuthenticationFailed):
        users.actor_for_token(session, clock, web)


def test_a_new_password_ends_every_session_and_token(session, clock):
    alice = make(session, clock, "alice")
    web = users.start_web_session(session, clock, alice)
    api, _ = users.issue_token(session, clock, alice)
    users.set_password(session, SYSTEM, clock, "alice", "brand-new-password")
    for token in (web, api):
        with pytest.raises(AuthenticationFailed):
            users.actor_for_token(session, clock, token)


def test_repeated_failures_lock_the_account_for_a_while(session, clock):
    from jiesu.errors import TooManyAttempts

    make(session, clock, "alice")
    for _ in range(users.MAX_FAILED_LOGINS):
        with pytest.raises(AuthenticationFailed) as e:
            users.authenticate(session, clock, "alice", "wrong-password")
        assert not isinstance(e.value, TooManyAttempts)
    with pytest.raises(TooManyAttempts):  # even the right password waits
        users.authenticate(session, clock, "alice", PASSWORD)
    clock.advance(users.LOCKOUT + timedelta(seconds=1))
    assert users.authenticate(session, clock, "alice", PASSWORD).username == "alice"


def test_a_success_resets_the_failure_count(session, clock):
    make(session, clock, "alice")
    for _ in range(users.MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthenticationFailed):
            users.authenticate(session, clock, "alice", "wrong-password")
    users.authenticate(session, clock, "alice", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        users.authenticate(session, clock, "alice", "wrong-password")
    assert users.authenticate(session, clock, "alice", PASSWORD).username == "alice"  # not locked


# -- passwords and accounts ----------------------------------------------------------------------------------------

def test_a_user_changes_their_own_password(session, clock):
    alice = make(session, clock, "alice")
    users.set_password(session, users.actor_of(alice), clock, "alice", "new-password-1")
    assert users.authenticate(session, clock, "alice", "new-password-1").id == alice.id
    with pytest.raises(AuthenticationFailed):
        users.authenticate(session, clock, "alice", PASSWORD)


def test_own_new_password_must_be_long_enough(session, clock):
    alice = make(session, clock, "alice")
    old_hash = alice.password_hash
    with pytest.raises(InvalidInput) as exc:
        users.set_password(session, users.actor_of(alice), clock, "alice", "short")
    assert exc.value.field == "password"
    assert alice.password_hash == old_hash


@pytest.mark.parametrize("role", [Role.operator, Role.supervisor])
def test_others_may_not_change_someones_password(session, clock, role):
    alice = make(session, clock, "alice")
    eve = make(session, clock, "eve", role)
    old_hash = alice.password_hash
    with pytest.raises(PermissionDenied):
        users.set_password(session, users.actor_of(eve), clock, "alice", "new-password-1")
    assert alice.password_hash == old_hash


def test_an_administrator_sets_anyones_password(session, clock):
    make(session, clock, "alice")
    users.set_password(session, SYSTEM, clock, "alice", "new-password-1")
    assert users.authenticate(session, clock, "alice", "new-password-1").username == "alice"
    with pytest.raises(UserNotFound) as exc:
        users.set_password(session, SYSTEM, clock, "nobody", "new-password-1")
    assert exc.value.field == "username"


def test_only_an_administrator_deactivates(session, clock):
    make(session, clock, "alice")
    sup = make(session, clock, "sup", Role.supervisor)
    with pytest.raises(PermissionDenied):
        users.set_active(session, users.actor_of(sup), "alice", False, clock)
    assert users.get(session, SYSTEM, "alice").active is True


def test_everyone_reads_their_own_account_only_readers_read_others(session, clock):
    alice = make(session, clock, "alice")
    make(session, clock, "bob")
    me = users.actor_of(alice)
    assert users.get(session, me, "alice").id == alice.id
    with pytest.raises(PermissionDenied):
        users.get(session, me, "bob")


def test_list_users_by_role_and_unit(session, clock):
    make(session, clock, "disp-b", Role.dispatcher)
    make(session, clock, "disp-a", Role.dispatcher)
    make(session, clock, "op", Role.operator)
    make(session, clock, "handler", Role.unit_handler, unit_code=GUANYINSI)
    items, total = users.list_users(session, SYSTEM, role=Role.dispatcher)
    assert (total, [u.username for u in items]) == (2, ["disp-a", "disp-b"])
    items, total = users.list_users(session, SYSTEM)
    assert (total, [u.username for u in items]) == (4, ["disp-a", "disp-b", "handler", "op"])
    items, total = users.list_users(session, SYSTEM, unit_code=GUANYINSI)
    assert (total, [u.username for u in items]) == (1, ["handler"])
    assert users.list_users(session, SYSTEM, role=Role.callback_agent) == ([], 0)
    items, total = users.list_users(session, SYSTEM, limit=1, offset=1)
    assert (total, [u.username for u in items]) == (4, ["disp-b"])


def test_a_supervisor_may_list_users_an_operator_may_not(session, clock):
    sup = make(session, clock, "sup", Role.supervisor)
    op = make(session, clock, "op", Role.operator)
    items, total = users.list_users(session, users.actor_of(sup))
    assert (total, {u.username for u in items}) == (2, {"sup", "op"})
    assert users.get(session, users.actor_of(sup), "op").id == op.id
    for actor in (users.actor_of(op), ANONYMOUS, Actor("c", Role.citizen, user_id=5)):
        with pytest.raises(PermissionDenied):
            users.list_users(session, actor)


# -- found in review: identity is the account id, not the name ------------------------------------------------

@pytest.mark.parametrize("username", ["system", "anonymous", "System", "clock"])
def test_built_in_actor_names_are_reserved(session, clock, username):
    with pytest.raises(InvalidInput) as e:
        make(session, clock, username)
    assert e.value.field == "username"


def test_a_name_alone_does_not_make_you_the_owner(session, clock):
    make(session, clock, "carol")
    impostor = Actor("carol", Role.citizen)  # same name, no account id
    with pytest.raises(PermissionDenied):
        users.get(session, impostor, "carol")
    with pytest.raises(PermissionDenied):
        users.set_password(session, impostor, clock, "carol", "another-password")


def test_blank_display_name_falls_back_to_the_username(session, clock):
    u = users.create(session, SYSTEM, clock, username="dave", password=PASSWORD, role=Role.operator,
                     display_name="   ")
    assert u.display_name == "dave"


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(days=-1)])
def test_a_token_lifetime_must_be_positive(session, clock, ttl):
    with pytest.raises(InvalidInput) as e:
        users.issue_token(session, clock, make(session, clock, "erin"), ttl=ttl)
    assert e.value.field == "ttl"


@pytest.mark.parametrize(("kwargs", "field"), [({"limit": 0}, "limit"), ({"limit": -1}, "limit"),
                                                ({"offset": -1}, "offset"), ({"unit_code": "nope"}, "unit_code")])
def test_list_users_checks_its_filters(session, kwargs, field):
    with pytest.raises(InvalidInput) as e:
        users.list_users(session, SYSTEM, **kwargs)
    assert e.value.field == field


@pytest.mark.parametrize(("role", "unit_code"), [
    (Role.community_worker, "110115009000"),  # a street office, not a community
    (Role.operator, "110115009000"),  # the centre's staff work for the centre
    (Role.citizen, "12345"),
    (Role.unit_handler, "12345"),  # the centre does not handle tickets
])
def test_a_role_belongs_to_the_right_kind_of_unit(session, clock, role, unit_code):
    with pytest.raises(InvalidInput) as e:
        make(session, clock, "misplaced", role, unit_code)
    assert e.value.field == "unit_code"


def test_no_token_for_a_deactivated_user(session, clock):
    user = make(session, clock, "gone")
    users.set_active(session, SYSTEM, "gone", False, clock)
    with pytest.raises(InvalidInput) as e:
        users.issue_token(session, clock, user)
    assert e.value.field == "username"
