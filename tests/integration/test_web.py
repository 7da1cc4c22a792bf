"""The pages: Chinese first, English with ?lang=en, login by form and cookie."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from jiesu.permissions import SYSTEM, Role
from jiesu.taxonomy import service as taxonomy_service
from jiesu.units import service as units_service
from jiesu.units import users
from jiesu.units.models import UnitKind
from jiesu.web import i18n
from tests import forms

PASSWORD = "correct-horse-9"
EN_CATALOGUE = i18n.LOCALES / "en" / "LC_MESSAGES" / "jiesu.po"
CJK = re.compile(r"[\u4e00-\u9fff]")
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PLACE_KINDS = ("街道", "镇", "乡", "地区", "其他", "社区", "村", "类似居委会", "类似村委会", "小区", "区", "市")


def make_user(session, clock, username: str, role: Role, display_name: str | None = None) -> None:
    users.create(session, SYSTEM, clock, username=username, password=PASSWORD, role=role, display_name=display_name)


def web_login(client, username: str, password: str = PASSWORD):
    return forms.post(client, "/login", data={"username": username, "password": password}, follow_redirects=False)


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
    r = forms.post(client, "/logout", follow_redirects=False)
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
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/units"


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
    forms.post(client, "/logout", follow_redirects=False)
    client.cookies.set("jiesu_session", stolen)
    r = client.get("/units", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_web_lockout_message(session, clock, client):
    make_user(session, clock, "op8", Role.operator)
    for _ in range(users.MAX_FAILED_LOGINS):
        assert web_login(client, "op8", "wrong-password").status_code == 401
    r = web_login(client, "op8")
    assert r.status_code == 429 and "登录失败次数过多" in r.text


def row_codes(html: str) -> list[str]:
    return re.findall(r"<tr><td><code>([^<]+)</code>", html)


def links_of(html: str) -> list[str]:
    return [htmllib.unescape(h) for h in re.findall(r'href="([^"]*)"', html)]


# --- 1. error pages --------------------------------------------------------------------------------


def test_browser_gets_error_pages_in_the_site_layout(session, clock, client):
    r = client.get("/no-such-page", headers=BROWSER)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text and '<header class="top">' in r.text
    assert "页面不存在" in r.text and 'href="/"' in r.text

    r = client.post("/places", headers=BROWSER)
    assert r.status_code == 405 and "不支持此请求方法" in r.text and '<header class="top">' in r.text
    assert "GET" in r.headers["allow"]

    r = client.get("/units", params={"page": "abc"}, headers=BROWSER)
    assert r.status_code == 422 and "请求参数有误" in r.text and "参数 page 的值无效" in r.text

    make_user(session, clock, "cit2", Role.citizen)
    assert web_login(client, "cit2").status_code == 303
    r = client.get("/units", headers=BROWSER)
    assert r.status_code == 403 and "无权查看单位" in r.text and '<header class="top">' in r.text


def test_error_pages_speak_the_users_language_and_know_the_user(session, clock, client):
    make_user(session, clock, "op3", Role.operator, display_name="李娜")
    assert web_login(client, "op3").status_code == 303
    r = client.get("/no-such-page", headers=BROWSER)
    assert r.status_code == 404 and "李娜 · 话务员" in r.text  # the header still knows who is there
    r = client.get("/no-such-page", params={"lang": "en"}, headers=BROWSER)
    assert r.status_code == 404 and '<html lang="en">' in r.text and "Page not found" in r.text
    assert not CJK.search(nav_of(r.text))
    r = client.get("/units", params={"page": "abc"}, headers=BROWSER)  # the cookie keeps English
    assert r.status_code == 422 and "The value of page is not valid." in r.text


def test_a_crash_is_a_500_page_for_a_browser_and_json_for_the_api(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(taxonomy_service, "list_policies", broken)
    monkeypatch.setattr(taxonomy_service, "list_categories", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/categories", headers=BROWSER)
        assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
        assert "系统内部错误" in r.text and '<header class="top">' in r.text and "boom" not in r.text
        r = c.get("/api/v1/categories", headers=BROWSER)
        assert r.status_code == 500
        assert r.json() == {"error": {"code": "internal_error", "message": "internal error; it has been logged",
                                      "field": None, "details": []}}


def test_api_errors_keep_their_json_shape_for_a_browser(client):
    r = client.get("/api/v1/no-such-thing", headers=BROWSER)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "not_found"
    r = client.get("/api/v1/places/999999", headers=BROWSER)
    assert r.status_code == 404 and r.json()["error"]["code"] == "place_not_found"
    r = client.get("/api/v1/places", params={"q": "x", "limit": "abc"}, headers=BROWSER)
    assert r.status_code == 422 and r.json()["error"]["field"] == "limit"
    # and a program that does not ask for HTML gets JSON from the pages' paths too
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("page, shown", [("99999999999999999999", "7 / 7"), ("8", "7 / 7"), ("0", "1 / 7"),
                                         ("-3", "1 / 7")])
def test_units_page_number_is_clamped(session, clock, client, page, shown):
    make_user(session, clock, "op1", Role.operator)
    assert web_login(client, "op1").status_code == 303
    r = client.get("/units", params={"kind": "street", "page": page}, headers=BROWSER)
    assert r.status_code == 200 and shown in r.text
    assert len(row_codes(r.text)) == (349 - 300 if shown == "7 / 7" else 50)


# --- 2. language --------------------------------------------------------------------------------


def test_the_browsers_language_does_not_switch_to_english(client):
    r = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="zh-CN">' in r.text and "地名查询" in nav_of(r.text)


@pytest.mark.parametrize("path, params", [("/places", [("q", "八里庄")]),
                                          ("/places", [("q", "a&b c"), ("lang", "zh_CN")]),
                                          ("/", [])])
def test_language_link_keeps_path_and_query(client, path, params):
    r = client.get(path, params=params)
    m = re.search(r'<a class="lang" href="([^"]+)"[^>]*>English</a>', r.text)
    assert m, "no English link"
    kept = [(k, v) for k, v in params if k != "lang"]
    assert htmllib.unescape(m.group(1)) == f"{path}?{urlencode([*kept, ('lang', 'en')])}"


def test_language_link_from_english_back_to_chinese(client):
    r = client.get("/places", params={"q": "八里庄", "lang": "en"})
    assert f'href="/places?{urlencode([("q", "八里庄"), ("lang", "zh_CN")])}"' in htmllib.unescape(r.text)


# --- 3. categories ------------------------------------------------------------------------------


def deadline_rows(html: str) -> list[list[str]]:
    table = html.split('id="deadlines"', 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in rows]


def test_categories_deadlines_are_readable(client):
    rows = deadline_rows(client.get("/categories").text)
    assert [r[:2] for r in rows[:3]] == [["全部分类", "紧急"], ["全部分类", "一般"], ["全部分类", "疑难"]]
    assert rows[0][2:5] == ["1 小时", "0.5 小时", "2 小时"]
    assert rows[2][4] == "15 个工作日"
    scopes = [r[0] for r in rows]
    assert "城乡建设/城市建设和市政管理/燃气供应" in scopes
    assert not any(re.fullmatch(r"[\d.]+", s) for s in scopes)  # no bare codes
    assert not any(re.search(r"\d\.0\b", c) for r in rows for c in r[2:5])
    for r in rows:  # every scope lists its urgencies in the order emergency, normal, complex
        same = [x[1] for x in rows if x[0] == r[0]]
        assert same == sorted(same, key=["紧急", "一般", "疑难"].index)


def test_categories_deadlines_in_english(client):
    rows = deadline_rows(client.get("/categories", params={"lang": "en"}).text)
    assert rows[0][:2] == ["all categories", "emergency"]
    assert rows[1][4] == "7 business days"


def test_categories_search(session, client):
    r = client.get("/categories", params={"q": "燃气"})
    assert r.status_code == 200
    html = r.text
    assert "共 1 个结果" in html
    assert "城乡建设/城市建设和市政管理/燃气供应" in html
    assert html.count("<summary><code>") == 2  # the tree shrinks to the match and the nodes above it
    assert "<code>01.02.013</code> 燃气供应" in html and "<code>01.02.016</code>" not in html.split('id="deadlines"')[0]
    r = client.get("/categories", params={"q": "没有这种分类"})
    assert "共 0 个结果" in r.text and "<summary><code>" not in r.text
    # a match on a top-level name brings its whole subtree
    below = taxonomy_service.list_categories(session, SYSTEM, parent_code="01")
    assert client.get("/categories", params={"q": "城乡建设"}).text.count("<summary><code>") == 1 + len(below)


# --- 4. units -----------------------------------------------------------------------------------


def operator(session, clock, client, display_name: str | None = None) -> None:
    make_user(session, clock, "op1", Role.operator, display_name)
    assert web_login(client, "op1").status_code == 303


def test_units_are_listed_in_the_order_an_operator_looks(session, clock, client):
    operator(session, clock, client)
    html = client.get("/units").text
    total = sum(units_service.counts(session, SYSTEM).values())
    assert f"共 {total} 个结果" in html
    codes = row_codes(html)
    assert codes[0] == "12345"  # the centre
    assert codes[1:17] == sorted(codes[1:17]) and all(c.endswith("000000") for c in codes[1:17])
    assert codes[17] == "110101001000"  # then the streets, by code
    # across pages: the streets go on, then the departments, their branches, utilities, communities
    order = [UnitKind.centre, UnitKind.district_government, UnitKind.street, UnitKind.department,
             UnitKind.department_branch, UnitKind.utility, UnitKind.community]
    expected: list[str] = []
    for kind in order:
        expected += [u.code for u in units_service.list_units(session, SYSTEM, kind=kind, limit=1000)[0]][:450]
    seen: list[str] = []
    for page in range(1, 10):
        seen += row_codes(client.get("/units", params={"page": page}).text)
    assert seen == expected[:450]


def test_units_district_filter_and_parent_names(session, clock, client):
    operator(session, clock, client)
    html = client.get("/units", params={"district": "110115000000", "kind": "street"}).text
    want = units_service.list_units(session, SYSTEM, kind=UnitKind.street, district_code="110115000000")[1]
    assert f"共 {want} 个结果" in html
    assert html.count('<option value="1101') == 16  # the district select
    assert '<option value="110115000000" selected>大兴区</option>' in html
    rows = re.findall(r"<tr><td><code>.*?</tr>", html, re.S)
    assert rows and all("北京市/大兴区/" in r for r in rows)
    guanyinsi = next(r for r in rows if "观音寺街道办事处" in r)
    cells = re.findall(r"<td>(.*?)</td>", guanyinsi, re.S)
    assert cells[3] == "大兴区人民政府"  # the parent by name, not by code
    assert 'href="/places/110115009000"' in guanyinsi


def test_units_pager_keeps_filters(session, clock, client):
    operator(session, clock, client)
    html = client.get("/units", params={"kind": "community", "district": "110105000000", "q": "社区"}).text
    nxt = [h for h in links_of(html) if "page=2" in h]
    assert nxt == ["/units?" + urlencode({"kind": "community", "district": "110105000000", "q": "社区", "page": 2})]
    html2 = client.get(nxt[0]).text
    prev = [h for h in links_of(html2) if h.startswith("/units?") and "page" not in h and "kind=community" in h
            and "district=110105000000" in h and "q=" in h]
    assert prev, "the previous-page link lost the filters"
    assert "2 / " in html2
    assert set(row_codes(html2)).isdisjoint(row_codes(html))


def test_units_kind_chips_show_counts(session, clock, client):
    operator(session, clock, client)
    html = client.get("/units", params={"district": "110115000000"}).text
    assert re.search(r'<a href="/units\?kind=street&amp;district=110115000000" class="">街乡镇 <small>\d+</small>',
                     html)


# --- 5. places ----------------------------------------------------------------------------------


def test_places_rows_link_to_place_pages(client):
    html = client.get("/places", params={"q": "八里庄"}).text
    assert 'href="/places/110105015000"' in html and 'href="/places/110108005000"' in html


def test_place_page(client):
    r = client.get("/places/110105015000")
    assert r.status_code == 200
    html = r.text
    assert "八里庄街道" in html and "北京市/朝阳区/八里庄街道" in html
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', html, re.S).group(0)
    assert 'href="/places/110100000000">北京市</a>' in crumbs and 'href="/places/110105000000">朝阳区</a>' in crumbs
    assert "街乡镇 · 街道" in html
    assert 'href="/places/110105015035"' in html  # a community below it
    assert "负责单位" not in html  # who works where is for staff


def test_place_page_shows_aliases_formal_name_and_units(session, clock, client):
    html = client.get("/places/110105021000").text  # 南磨房地区, formally 南磨房乡
    assert "民政部名称" in html and "南磨房乡" in html
    operator(session, clock, client)
    html = client.get("/places/110101013006").text  # 广渠门外南里社区
    assert "广外南里" in html
    section = html.split("负责单位", 1)[1]
    for name in ("广渠门外南里社区居委会", "东花市街道办事处", "东城区人民政府"):
        assert name in section
    assert "没有下级地点" in html


def test_unknown_place_is_a_404_page(client):
    r = client.get("/places/999999999999", headers=BROWSER)
    assert r.status_code == 404 and "页面不存在" in r.text and '<header class="top">' in r.text
    assert client.get("/places/999999999999").status_code == 404


def test_places_district_filter(client):
    html = client.get("/places", params={"q": "八里庄", "district": "110108000000"}).text
    assert "110108005000" in html and "110105015000" not in html
    assert "有多个地点同名" not in html
    assert '<option value="110108000000" selected>海淀区</option>' in html
    html = client.get("/places", params={"q": "八里庄", "district": "bogus"}).text  # ignored, not an error
    assert "110105015000" in html and "110108005000" in html


# --- 6. login, then back where one was ------------------------------------------------------------


def test_login_keeps_next(session, clock, client):
    make_user(session, clock, "op1", Role.operator)
    r = client.get("/units", params={"kind": "street"}, follow_redirects=False)
    assert r.headers["location"] == "/login?next=/units%3Fkind%3Dstreet"
    form = client.get(r.headers["location"]).text
    assert '<input type="hidden" name="next" value="/units?kind=street">' in form
    bad = forms.post(client, "/login", data={"username": "op1", "password": "nope", "next": "/units?kind=street"})
    assert bad.status_code == 401 and 'value="/units?kind=street"' in bad.text  # kept through a wrong password
    r = forms.post(client, "/login", data={"username": "op1", "password": PASSWORD, "next": "/units?kind=street"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/units?kind=street"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "units",
                                    "javascript:alert(1)", ""])
def test_login_never_redirects_off_site(session, clock, client, target):
    make_user(session, clock, "op1", Role.operator)
    r = forms.post(client, "/login", data={"username": "op1", "password": PASSWORD, "next": target},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_login_link_comes_back_to_the_page(session, clock, client):
    make_user(session, clock, "op1", Role.operator)
    assert 'href="/login"' in client.get("/").text  # no next for the home page
    html = client.get("/categories", params={"q": "燃气"}).text
    login = next(h for h in links_of(html) if h.startswith("/login?"))
    target = parse_qs(urlsplit(login).query)["next"][0]
    assert target == "/categories?" + urlencode({"q": "燃气"})
    r = forms.post(client, "/login", data={"username": "op1", "password": PASSWORD, "next": target},
            follow_redirects=False)
    assert r.headers["location"] == target


# --- 7. header ----------------------------------------------------------------------------------


def test_header_shows_display_name_and_role(session, clock, client):
    shown = "王芳 · 话务员"
    operator(session, clock, client, display_name="王芳")
    html = client.get("/places").text
    assert shown in html and 'title="op1"' in html
    assert "Wang" not in html
    assert "王芳 · Operator" in client.get("/places", params={"lang": "en"}).text


# --- 8. narrow screens --------------------------------------------------------------------------


def test_tables_scroll_sideways_and_the_header_wraps(session, clock, client):
    css = client.get("/static/app.css").text
    assert re.search(r"\.table-wrap \{[^}]*overflow-x: auto", css)
    assert re.search(r"header\.top \{[^}]*flex-wrap: wrap", css)
    operator(session, clock, client)
    for path in ("/places?q=八里庄", "/categories", "/units", "/places/110105015000"):
        html = client.get(path).text
        assert html.count("<table") == html.count('<div class="table-wrap"><table'), path


# --- 9. place kinds -----------------------------------------------------------------------------


def test_place_kinds_are_translated(client):
    i18n.catalogue.cache_clear()
    kind = i18n.context_translator("en", i18n.PLACE_KIND)
    missing = [k for k in PLACE_KINDS if kind(k) == k or CJK.search(kind(k))]
    assert missing == []
    html = client.get("/places", params={"q": "八里庄", "lang": "en"}).text
    table = html.split("<table", 1)[1]
    assert "<td>Subdistrict</td>" in table and "<td>Community</td>" in table and "<td>Village</td>" in table
    for zh in ("街道", "社区", "村"):
        assert f"<td>{zh}</td>" not in table
    # 区 is still "districts" on the home page, but "District" as a place's kind
    assert "<span>districts</span>" in client.get("/", params={"lang": "en"}).text
    assert "District" in client.get("/places/110105000000", params={"lang": "en"}).text
