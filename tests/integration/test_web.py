"""The pages: Chinese first, English with ?lang=en, login by form and cookie."""

from __future__ import annotations

import re

import pytest

from jiesu.units import users
from jiesu.units.models import Role
from jiesu.units.permissions import SYSTEM
from jiesu.web import i18n

PASSWORD = "correct-horse-9"
EN_CATALOGUE = i18n.LOCALES / "en" / "LC_MESSAGES" / "jiesu.po"
CJK = re.compile(r"[\u4e00-\u9fff]")


def make_user(session, clock, username: str, role: Role) -> None:
    users.create(session, SYSTEM, clock, username=username, password=PASSWORD, role=role)


def web_login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


def nav_of(html: str) -> str:
    m = re.search(r"<nav>(.*?)</nav>", html, re.S)
    assert m, "no <nav> on the page"
    return m.group(1)


def test_home_in_chinese(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="zh-CN">' in html
    assert "接诉即办" in html
    for n in (16, 349, 7535):
        assert f"<b>{n}</b>" in html
    assert "<b>15 / 118 / 517</b>" in html
    assert "2024-09-30 10:00" in html  # the fixed clock, in Beijing time
    assert "今天是工作日" in html
    assert 'href="/login"' in html
    assert 'href="/units"' not in html  # anonymous visitors may not read units


@pytest.mark.skipif(not EN_CATALOGUE.exists(), reason=f"the English catalogue {EN_CATALOGUE} is not written yet")
def test_home_in_english(client):
    i18n.catalogue.cache_clear()  # the catalogue may have been read before the file existed
    en = i18n.catalogue("en")
    r = client.get("/?lang=en")
    assert r.status_code == 200
    html = r.text
    assert '<html lang="en">' in html
    nav = nav_of(html)
    for zh in ("地名查询", "诉求分类", "接口文档"):
        assert en.get(zh), f"the English catalogue does not translate {zh}"
        assert en[zh] in nav
    assert not CJK.search(nav), nav
    assert r.cookies.get("lang") == "en"
    # the cookie keeps English on the next page
    assert '<html lang="en">' in client.get("/places").text


def test_login_form(client):
    r = client.get("/login")
    assert r.status_code == 200
    html = r.text
    assert '<form class="login" method="post" action="/login">' in html
    assert 'name="username"' in html and 'name="password" type="password"' in html


def test_login_with_wrong_password(session, clock, client):
    make_user(session, clock, "op1", Role.operator)
    r = web_login(client, "op1", "wrong-password")
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert 'value="op1"' in r.text  # the username is kept in the form
    assert "jiesu_session" not in r.cookies
    assert "op1 ·" not in client.get("/").text


def test_login_logout(session, clock, client):
    make_user(session, clock, "op1", Role.operator)
    r = web_login(client, "op1")
    assert r.status_code == 303 and r.headers["location"] == "/"
    home = client.get("/").text
    assert "op1 · 话务员" in home
    assert 'action="/logout"' in home
    assert 'href="/units"' in home  # an operator may read units
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    home = client.get("/").text
    assert "op1" not in home and 'href="/login"' in home


def test_places_page_shows_ambiguity(client):
    r = client.get("/places", params={"q": "八里庄"})
    assert r.status_code == 200
    html = r.text
    assert "北京市/朝阳区/八里庄街道" in html and "北京市/海淀区/八里庄街道" in html
    assert "110105015000" in html and "110108005000" in html
    assert "注意：有多个地点同名，请按区县区分。" in html


def test_places_page_without_ambiguity(client):
    html = client.get("/places", params={"q": "广外南里"}).text
    assert "110101013006" in html
    assert "共 1 个结果" in html
    assert "有多个地点同名" not in html


def test_places_page_blank_query(client):
    r = client.get("/places", params={"q": "  "})
    assert r.status_code == 200
    assert "有多个地点同名" not in r.text
    assert '<tr class="' not in r.text  # no result rows
    assert 'class="error"' not in r.text  # a blank box is no error
    assert "个结果" not in r.text  # and no "0 results" line for a search nobody made


def test_categories_page_shows_the_tree(client):
    r = client.get("/categories")
    assert r.status_code == 200
    html = r.text
    assert html.count("<summary><code>") == 15 + 118
    assert "<code>01</code> 城乡建设" in html
    assert "<code>01.02.016</code> 自来水供应" in html
    assert "水电气热通信：24小时内反馈" in html  # the policies table


def test_units_page_redirects_anonymous_to_login(client):
    r = client.get("/units", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_units_page_forbidden_for_a_citizen(session, clock, client):
    make_user(session, clock, "cit1", Role.citizen)
    assert web_login(client, "cit1").status_code == 303
    r = client.get("/units")
    assert r.status_code == 403 and "无权查看单位" in r.text


def test_units_page_for_an_operator(session, clock, client):
    make_user(session, clock, "op1", Role.operator)
    assert web_login(client, "op1").status_code == 303
    r = client.get("/units", params={"kind": "street"})
    assert r.status_code == 200
    html = r.text
    assert "共 349 个结果" in html
    assert html.count("<tr><td><code>") == 50  # one page
    assert "1 / 7" in html
    assert "北京市/大兴区/观音寺街道" in client.get("/units", params={"kind": "street", "q": "观音寺"}).text


def test_static_css(client):
    r = client.get("/static/app.css")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")
    assert "header.top" in r.text


def test_search_text_is_escaped(client):
    r = client.get("/places", params={"q": '<script>alert("x")</script>'})
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(" in r.text


def test_a_copied_cookie_is_worthless_after_logout(session, clock, client):
    make_user(session, clock, "op9", Role.operator)
    assert web_login(client, "op9").status_code == 303
    stolen = client.cookies.get("jiesu_session")
    assert "op9" in client.get("/").text
    client.post("/logout", follow_redirects=False)
    client.cookies.set("jiesu_session", stolen)
    r = client.get("/units", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_web_lockout_message(session, clock, client):
    make_user(session, clock, "op8", Role.operator)
    for _ in range(users.MAX_FAILED_LOGINS):
        assert web_login(client, "op8", "wrong-password").status_code == 401
    r = web_login(client, "op8")
    assert r.status_code == 429 and "登录失败次数过多" in r.text
