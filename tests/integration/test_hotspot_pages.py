"""The proactive-governance pages over HTTP, on SQLite and PostgreSQL: who may open them, bad filters refused
naming the field, the hot spot's and the surge's forms (CSRF, a reason to dismiss, back where the form was),
a unit's narrowed view, and a project made from a hot spot with its effect, progress and Excel report."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from jiesu.hotspots import service
from jiesu.hotspots.models import HotSpot, HotSpotEvent
from jiesu.hotspots.rules import HotSpotStatus, SurgeStatus
from jiesu.permissions import SYSTEM, Role
from jiesu.units.models import Unit, UnitKind
from tests import forms
from tests.integration.test_api import make_user
from tests.integration.test_hotspots import ASOF, Seeder, at_local
from tests.integration.test_hotspots import city as city  # noqa: F401, PLC0414  (the fixture: a leaking community)
from tests.integration.test_hotspots import seeder as seeder  # noqa: F401, PLC0414
from tests.integration.test_tickets import OTHER_STREET, STREET
from tests.stories import PASSWORD


def login(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def found(session, clock, settings, city):  # noqa: F811
    """The city mined: the leaking community's hot spot, and the people who look at it."""
    service.mine(session, SYSTEM, clock, settings, since=city["since"], until=ASOF)
    spot = session.scalars(select(HotSpot).where(HotSpot.place_code == city["hot"].code)).one()
    make_user(session, clock, "boss", Role.supervisor)
    make_user(session, clock, "op", Role.operator)
    make_user(session, clock, "gys", Role.unit_handler, STREET)
    make_user(session, clock, "xf", Role.unit_handler, OTHER_STREET)
    session.flush()
    return spot


def test_who_may_open_the_board_and_what_it_shows(client, found):
    r = client.get("/hotspots", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    login(client, "op")
    assert client.get("/hotspots").status_code == 403  # the operators take calls; the board is not theirs
    login(client, "boss")
    html = client.get("/hotspots").text
    assert f'<li class="hotspot status-open" id="hotspot-{found.id}">' in html
    assert re.search(rf'<circle cx="[\d.]+" cy="[\d.]+" r="[\d.]+" fill="#[0-9a-f]+" data-id="{found.id}"', html)
    assert html.count("<path d=") >= 1 or "尚未导入区界" in html  # the districts when the test city has them
    assert '<a href="/hotspots">主动治理</a>' in html  # the staff's navigation leads here
    assert f'action="/hotspots/{found.id}/' not in html  # the board lists; the hot spot's page decides


@pytest.mark.parametrize(("query", "field"), [("status=bogus", "status"), ("label=hot", "label"),
                                              ("district=999999999999", "district"), ("category=99", "category")])
def test_a_filter_that_is_no_choice_is_refused_naming_it(client, found, query, field):
    login(client, "boss")
    r = client.get(f"/hotspots?{query}")
    assert r.status_code == 422 and field in r.text


def test_filters_narrow_the_list(client, found, session):
    login(client, "boss")
    assert f'id="hotspot-{found.id}"' in client.get(f"/hotspots?status=open&label={found.label.value}").text
    assert f'id="hotspot-{found.id}"' not in client.get("/hotspots?status=dismissed").text
    assert "没有符合条件的热点" in client.get("/hotspots?status=watched").text


def test_watch_then_dismiss_with_a_reason_from_the_hot_spots_page(client, found, session):
    login(client, "boss")
    page = client.get(f"/hotspots/{found.id}")
    assert page.status_code == 200 and "每周工单" in page.text and 'class="bar-row"' in page.text
    assert f'href="/projects/new?hotspot={found.id}"' in page.text
    assert page.text.count('<a href="/tickets/') >= 8 and "暂无可见的工单" not in page.text  # its tickets, linked
    r = client.post(f"/hotspots/{found.id}/watch", data={}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token: refused, nothing changed
    assert session.get(HotSpot, found.id).status == HotSpotStatus.open
    r = forms.post(client, f"/hotspots/{found.id}/watch", page=f"/hotspots/{found.id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/hotspots/{found.id}?done=watch"
    assert "已加入关注" in client.get(r.headers["location"]).text
    r = forms.post(client, f"/hotspots/{found.id}/dismiss", data={"reason": "  "}, page=f"/hotspots/{found.id}")
    assert r.status_code == 422 and "排除须填写原因" in r.text
    r = forms.post(client, f"/hotspots/{found.id}/fly", page=f"/hotspots/{found.id}")
    assert r.status_code == 422 and "不支持此操作" in r.text
    r = forms.post(client, f"/hotspots/{found.id}/dismiss", data={"reason": "已纳入年度老旧小区改造"},
                   page=f"/hotspots/{found.id}", follow_redirects=False)
    assert r.status_code == 303
    session.expire_all()
    assert session.get(HotSpot, found.id).status == HotSpotStatus.dismissed
    events = session.scalars(select(HotSpotEvent).where(HotSpotEvent.entity_id == found.id,
                                                        HotSpotEvent.kind == "hotspot").order_by(HotSpotEvent.id))
    assert [(e.step, e.actor, e.reason) for e in events][-2:] == [("watch", "boss", ""),
                                                                 ("dismiss", "boss", "已纳入年度老旧小区改造")]
    again = forms.post(client, f"/hotspots/{found.id}/dismiss", data={"reason": "again"}, page="/hotspots")
    assert again.status_code == 409 and "状态已变化" in again.text
    assert client.get("/hotspots/999999").status_code == 404
    assert client.get("/hotspots/0").status_code == 422


def test_a_street_sees_its_own_area_and_no_buttons(client, found):
    login(client, "gys")
    html = client.get("/hotspots").text
    assert f'id="hotspot-{found.id}"' in html and 'class="muted scope"' in html
    page = client.get(f"/hotspots/{found.id}").text
    assert f'action="/hotspots/{found.id}/watch"' not in page
    r = forms.post(client, f"/hotspots/{found.id}/watch", page="/hotspots")
    assert r.status_code == 403
    client.cookies.clear()
    login(client, "xf")  # the other street: not its hot spot
    assert f'id="hotspot-{found.id}"' not in client.get("/hotspots").text
    assert client.get(f"/hotspots/{found.id}").status_code == 404


def test_a_surge_is_acknowledged_and_the_form_returns_to_the_board(client, session, clock, settings, found,
                                                                   seeder: Seeder):  # noqa: F811
    burst = seeder.community(STREET, 2)
    today = date(2024, 9, 30)
    seeder.add([(burst, 1, at_local(today, 7, 5 * k)) for k in range(12)])
    session.flush()
    surge = next(s for s in service.scan(session, SYSTEM, clock, settings).raised if s.place_code == burst.code)
    login(client, "boss")
    board = client.get("/hotspots").text
    assert f'<article class="surge status-raised" id="surge-{surge.id}">' in board
    r = forms.post(client, f"/surges/{surge.id}/dismiss", data={"next": "/hotspots?label=new"}, page="/hotspots")
    assert r.status_code == 422 and "排除须填写原因" in r.text
    r = forms.post(client, f"/surges/{surge.id}/acknowledge", data={"next": "/hotspots?label=new"},
                   page="/hotspots", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/hotspots?label=new&done=acknowledged#surge-{surge.id}"
    session.expire_all()
    assert service.get_surge(session, SYSTEM, surge.id).row.spot.status == SurgeStatus.acknowledged
    page = client.get(f"/surges/{surge.id}").text
    assert "已确认" in page and "确认突发</button>" not in page
    assert page.count('<a href="/tickets/') >= 5 and "处理记录" in page  # its tickets and who acknowledged it
    board = client.get("/hotspots").text
    assert f'id="surge-{surge.id}"' not in board and f'<a href="/surges/{surge.id}">' in board  # handled lately
    r = forms.post(client, f"/surges/{surge.id}/acknowledge", data={"next": "//evil.example/"}, page="/hotspots")
    assert r.status_code == 409  # already acknowledged; and an off-site `next` is never followed


def test_a_project_from_the_hot_spot_with_its_effect_progress_and_excel(client, session, found):
    login(client, "boss")
    form = client.get(f"/projects/new?hotspot={found.id}")
    assert form.status_code == 200 and 'name="owner"' in form.text
    assert client.get("/projects/new").status_code == 422  # from what?
    r = forms.post(client, "/projects", data={"hotspot": str(found.id), "title": "综合整治", "owner": ""},
                   page="/hotspots")
    assert r.status_code == 422 and "请选择责任单位" in r.text
    r = forms.post(client, "/projects", data={"hotspot": str(found.id), "title": "综合整治", "owner": STREET,
                                              "started_on": "2024-08-01", "plan": "更换管道"},
                   page="/hotspots", follow_redirects=False)
    assert r.status_code == 303, r.text
    project = r.headers["location"].split("?")[0]
    page = client.get(project).text
    assert "治理效果" in page and "综合整治" in page and "已立项" in page
    assert 'id="effect-chart"' in page or "暂不计算效果" in page or "不计算双重差分" in page
    r = forms.post(client, f"{project}/updates", data={"text": "一期完工", "percent": "abc"}, page="/hotspots")
    assert r.status_code == 422 and "完成进度为 0 到 100 的整数" in r.text
    r = forms.post(client, f"{project}/updates", data={"text": "一期完工", "percent": "40"}, page="/hotspots",
                   follow_redirects=False)
    assert r.status_code == 303 and "一期完工" in client.get(project).text
    r = forms.post(client, f"{project}/steps/cancel", data={"reason": ""}, page="/hotspots")
    assert r.status_code == 422 and "撤销须填写原因" in r.text
    r = forms.post(client, f"{project}/steps/start", page="/hotspots", follow_redirects=False)
    assert r.status_code == 303 and "实施中" in client.get(project).text
    xlsx = client.get(f"{project}/effect.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert f'href="{project}"' in client.get("/hotspots").text  # the board lists it among the projects
    assert client.get("/projects/999999").status_code == 404


def test_a_topic_is_adopted_from_the_candidates(client, session, found):
    department = session.scalar(select(Unit.code).where(Unit.kind == UnitKind.department).order_by(Unit.code))
    login(client, "boss")
    page = client.get("/topics").text
    keys = re.findall(r'<option value="([^"]+:[^"]*)"', page)
    assert keys, "the city's year of tickets gives candidates"
    r = forms.post(client, "/topics", data={"candidate": keys[0], "month": "2024-10", "lead": "nobody"},
                   page="/topics")
    assert r.status_code == 422 and "请选择牵头部门" in r.text
    r = forms.post(client, "/topics", data={"candidate": keys[0], "month": "Oct", "lead": department},
                   page="/topics")
    assert r.status_code == 422 and "立题月份" in r.text
    r = forms.post(client, "/topics", data={"candidate": keys[0], "month": "2024-10", "lead": department},
                   page="/topics", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/topics?done=adopted#adopted"
    adopted = client.get("/topics").text
    assert "已立题" in adopted and 'class="topic"' in adopted and "2024-10" in adopted
    again = forms.post(client, "/topics", data={"candidate": keys[0], "month": "2024-10", "lead": department},
                       page="/topics")
    assert again.status_code == 409  # one theme once a month
    login(client, "gys")
    assert "候选题目" not in client.get("/topics").text  # a street reads; the supervisors choose
