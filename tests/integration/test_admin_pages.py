"""Administration in the browser (/admin, issue 17 item 3): users (add, edit, deactivate, reset the password,
unlock), units (add, edit), the Open311 keys (issue, revoke) and the audit page that shows each change with its
before and after and never a secret; only administrators; bad input -> 422 naming the field, the form kept."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from sqlalchemy import select

from jiesu.audit import service as audit
from jiesu.audit.models import AuditEntry
from jiesu.open311 import service as open311
from jiesu.permissions import SYSTEM, Role
from jiesu.units import users
from jiesu.units.models import LoginAttempts, User
from tests import forms

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-1"
HTML = {"Accept": "text/html"}
PAGES = ["/admin", "/admin/users", "/admin/users/new", "/admin/users/boss", "/admin/units", "/admin/units/new",
         "/admin/units/110115000000", "/admin/apikeys", "/admin/audit"]
POSTS = ["/admin/users/new", "/admin/users/boss", "/admin/users/boss/active", "/admin/users/boss/password",
         "/admin/users/boss/unlock", "/admin/units/new", "/admin/units/110115000000", "/admin/apikeys",
         "/admin/apikeys/city-app/revoke"]


@pytest.fixture
def admin(session, clock):
    users.create(session, SYSTEM, clock, username="boss", password=PASSWORD, role=Role.admin, display_name="管理员甲",
                 unit_code="12345")
    users.create(session, SYSTEM, clock, username="disp1", password=PASSWORD, role=Role.dispatcher,
                 display_name="派单员", unit_code="12345")
    session.commit()
    return "boss"


def login(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


def post(client, path: str, data: dict | None = None, page: str = "/admin/users/new", **kw):
    return forms.post(client, path, data, page=page, headers=HTML, follow_redirects=False, **kw)


def text(r) -> str:
    return htmllib.unescape(r.text)


def audit_rows(session, entity: str, key: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.key == key)
                                .order_by(AuditEntry.id)))


def test_an_administrator_manages_a_user_and_every_change_is_audited(admin, client, session):
    login(client, admin)
    r = client.get("/admin", headers=HTML)
    assert r.status_code == 200
    for href in ("/admin/users", "/admin/units", "/admin/categories", "/admin/policies", "/admin/calendar",
                 "/admin/rules", "/admin/articles", "/admin/apikeys", "/admin/audit"):
        assert f'href="{href}"' in r.text
    # add
    r = post(client, "/admin/users/new", {"username": "gys2", "display_name": "王五", "role": "unit_handler",
                                          "unit_code": "110115009000", "password": "first-pass-99"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users/gys2?done=create"
    page = client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200 and "王五" in page.text and "已新增" in page.text
    # listed, searched, filtered
    assert "gys2" in client.get("/admin/users", params={"q": "王五"}, headers=HTML).text
    assert "gys2" not in client.get("/admin/users", params={"q": "nobody-at-all"}, headers=HTML).text
    assert "gys2" in client.get("/admin/users", params={"role": "unit_handler", "unit": "110115009000"}).text
    assert "gys2" not in client.get("/admin/users", params={"role": "dispatcher"}).text
    # edit the role (a dispatcher works for the centre)
    r = post(client, "/admin/users/gys2", {"display_name": "王五", "role": "dispatcher", "unit_code": "12345"})
    assert r.status_code == 303
    session.expire_all()
    user = session.scalar(select(User).where(User.username == "gys2"))
    assert user.role == Role.dispatcher
    # deactivate, then reactivate
    assert post(client, "/admin/users/gys2/active", {"active": "0"}).status_code == 303
    session.expire_all()
    assert session.scalar(select(User.active).where(User.username == "gys2")) is False
    assert post(client, "/admin/users/gys2/active", {"active": "1"}).status_code == 303
    # reset the password: a generated one, shown once
    r = post(client, "/admin/users/gys2/password", {"password": ""})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    shown = re.search(r'<output class="secret" id="new-password">([^<]+)</output>', r.text).group(1)
    assert len(shown) == users.GENERATED_PASSWORD_LENGTH
    assert shown not in client.get("/admin/users/gys2", headers=HTML).text  # once
    # the user is locked out by failed logins, the administrator unlocks
    session.add(LoginAttempts(username="gys2", source="10.0.0.9", attempts=9, locked_until=None,
                              last_at=user.created_at))
    session.commit()
    assert "有登录失败记录" in client.get("/admin/users/gys2", headers=HTML).text
    assert post(client, "/admin/users/gys2/unlock").status_code == 303
    assert users.lock_count(session, "gys2") == 0

    actions = [e.action for e in audit_rows(session, "user", "gys2")]
    assert actions == ["create", "edit", "deactivate", "reactivate", "reset_password", "unlock"]
    r = client.get("/admin/audit", params={"entity": "user", "key": "gys2"}, headers=HTML)
    body = text(r)
    assert r.status_code == 200
    assert "修改" in body and "<del>承办人</del> → <ins>派单员</ins>" in body  # the role: before -> after
    assert "重置密码" in body and "解除登录锁定" in body and "停用" in body
    assert shown not in body and "first-pass-99" not in body and "argon2" not in body
    # nor in what the audit keeps
    for e in audit_rows(session, "user", "gys2"):
        for blob in (e.before or "", e.after or ""):
            assert "first-pass-99" not in blob and shown not in blob and "argon2" not in blob
    # the newest first, the who and the local time (Asia/Shanghai: the clock's 02:00 UTC is 10:00)
    entries, _ = audit.entries(session, SYSTEM, entity="user", key="gys2")
    assert entries[0].action == "unlock"
    assert "2024-09-30 10:00" in body and "boss" in body
    # filtered by who: the header still names the person logged in
    r = client.get("/admin/audit", params={"who": "boss"}, headers=HTML)
    assert "管理员甲 · 管理员" in r.text and 'value="boss"' in r.text and "gys2" in r.text
    assert "gys2" not in client.get("/admin/audit", params={"who": "nobody"}, headers=HTML).text
    # the index shows the latest
    assert "gys2" in client.get("/admin", headers=HTML).text


def test_bad_input_is_422_naming_the_field_with_the_form_kept(admin, client):
    login(client, admin)
    r = post(client, "/admin/users/new", {"username": "x y", "display_name": "赵六", "role": "operator",
                                          "password": "long-enough-1"})
    assert r.status_code == 422
    assert 'id="e-username"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="赵六"' in r.text  # kept
    r = post(client, "/admin/users/new", {"username": "zl1", "role": "operator", "password": "short"})
    assert r.status_code == 422 and 'id="e-password"' in r.text and 'value="zl1"' in r.text
    r = post(client, "/admin/users/new", {"username": "zl1", "role": "unit_handler", "password": "long-enough-1"})
    assert r.status_code == 422 and 'id="e-unit_code"' in r.text
    r = post(client, "/admin/users/new", {"username": "zl1", "role": "pope", "password": "long-enough-1"})
    assert r.status_code == 422 and 'id="e-role"' in r.text
    r = post(client, "/admin/units/new", {"code": "t-1", "name": "测试单位", "kind": "street", "area_code": ""},
             page="/admin/units/new")
    assert r.status_code == 422 and 'id="e-area_code"' in r.text and 'value="测试单位"' in r.text
    r = post(client, "/admin/units/110115000000",
             {"name": "大兴区人民政府", "calendar": "no-such-calendar", "active": "1"},
             page="/admin/units/110115000000")
    assert r.status_code == 422 and 'id="e-calendar"' in r.text
    r = post(client, "/admin/apikeys", {"name": "bad name!"}, page="/admin/apikeys")
    assert r.status_code == 422 and 'id="e-name"' in r.text and 'value="bad name!"' in r.text
    # English through the catalogue
    r = forms.post(client, "/admin/users/new?lang=en", {"username": "x y", "role": "operator",
                                                        "password": "long-enough-1"},
                   page="/admin/users/new", headers=HTML)
    assert r.status_code == 422 and "Username" in r.text and "New user" in r.text


def test_units_are_added_and_edited_and_audited(admin, client, session):
    login(client, admin)
    r = post(client, "/admin/units/new", {"code": "prop-test", "name": "测试物业", "kind": "property_company",
                                          "parent_code": "110115009006", "area_code": "110115009006",
                                          "phone": "010-1234"}, page="/admin/units/new")
    assert r.status_code == 303, r.text
    assert "测试物业" in client.get("/admin/units", params={"q": "测试物业"}, headers=HTML).text
    r = post(client, "/admin/units/prop-test", {"name": "测试物业公司", "parent_code": "110115009006",
                                                "area_code": "110115009006", "phone": "010-5678",
                                                "calendar": "default", "active": "0"}, page="/admin/units/prop-test")
    assert r.status_code == 303
    assert [e.action for e in audit_rows(session, "unit", "prop-test")] == ["create", "edit"]
    body = text(client.get("/admin/audit", params={"entity": "unit"}, headers=HTML))
    assert "测试物业" in body and "测试物业公司" in body and "010-5678" in body
    # the list filters by kind and district
    r = client.get("/admin/units", params={"kind": "district_government", "district": "110115000000"}, headers=HTML)
    assert "大兴区人民政府" in r.text and "昌平区人民政府" not in r.text


def test_keys_are_issued_once_and_revoked_and_the_audit_never_holds_them(admin, client, session):
    login(client, admin)
    r = post(client, "/admin/apikeys", {"name": "city-app", "note": "市网格中心"}, page="/admin/apikeys")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    key = re.search(r'<output class="secret" id="new-key">([^<]+)</output>', r.text).group(1)
    assert open311.check_key(session, key).name == "city-app"
    assert key not in client.get("/admin/apikeys", headers=HTML).text
    assert post(client, "/admin/apikeys/city-app/revoke", page="/admin/apikeys").status_code == 303
    assert [e.action for e in audit_rows(session, "apikey", "city-app")] == ["create", "revoke"]
    body = text(client.get("/admin/audit", params={"entity": "apikey"}, headers=HTML))
    assert "吊销" in body and "city-app" in body and key not in body and key[:10] not in body
    for e in audit_rows(session, "apikey", "city-app"):
        assert key[:10] not in (e.before or "") + (e.after or "")


@pytest.mark.parametrize("role", [Role.dispatcher, Role.supervisor, Role.citizen])
def test_only_administrators(admin, client, session, clock, role):
    users.create(session, SYSTEM, clock, username="other1", password=PASSWORD, role=role,
                 unit_code="12345" if role != Role.citizen else None)
    session.commit()
    login(client, "other1")
    for path in PAGES:
        r = client.get(path, headers=HTML)
        assert r.status_code == 403, path
    token = forms.token(client, "/")
    for path in POSTS:
        r = client.post(path, data={"csrf_token": token, "username": "evil", "role": "admin",
                                    "password": "long-enough-1", "name": "evil", "active": "0"}, headers=HTML)
        assert r.status_code == 403, path
    assert "/admin" not in client.get("/", headers=HTML).text  # no link either


def test_visitors_are_sent_to_log_in_and_forms_need_the_token(admin, client):
    r = client.get("/admin/users", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin/users"
    login(client, admin)
    r = client.post("/admin/users/new", data={"username": "no-token", "role": "operator",
                                              "password": "long-enough-1"}, headers=HTML)
    assert r.status_code == 403


def test_the_cli_is_audited_too(admin, session, clock):
    """`jiesu users add` runs users.create as the system: the service writes the entry, not the page."""
    from typer.testing import CliRunner

    from jiesu.units import cli

    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        from contextlib import contextmanager

        @contextmanager
        def scope():
            yield session
            session.flush()

        mp.setattr(cli, "session_scope", scope)
        done = runner.invoke(cli.users_app, ["add", "cli1", "--role", "operator", "--unit", "12345",
                                             "--password", "long-enough-1"])
    assert done.exit_code == 0, done.output
    rows = audit_rows(session, "user", "cli1")
    assert [(e.actor, e.action) for e in rows] == [("system", "create")]
    assert "long-enough-1" not in (rows[0].after or "")
