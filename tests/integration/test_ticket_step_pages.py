"""Steps taken on the ticket page: the page offers what the workflow's table allows the person, a form posts
the step, a second post of the same form changes nothing, a refused step is said inline in the page's
language."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from jiesu.permissions import Role
from jiesu.tickets import service
from jiesu.tickets.models import Ticket, TicketEvent
from jiesu.tickets.reading import by_number
from jiesu.tickets.rules import Step, TicketState
from tests import forms
from tests.integration.test_ticket_pages import GUANYINSI, XINGSHOU, World, login

pytestmark = pytest.mark.integration


@pytest.fixture
def world(session, clock, settings) -> World:
    return World(session, clock, settings)


def offered(html: str) -> list[str]:
    return re.findall(r'action="/tickets/[0-9-]+/steps/(\w+)"', html)


def events(session, number: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(TicketEvent).join(Ticket)
                          .where(Ticket.number == number))


def step(client, number: str, name: str, data: dict, version: int | None, **kw):
    fields = {**data, **({"expected_version": str(version)} if version is not None else {})}
    return forms.post(client, f"/tickets/{number}/steps/{name}", fields, page=f"/tickets/{number}", **kw)


def test_each_person_is_offered_the_steps_the_table_allows(world, client):
    number = world.ticket(unit=None)
    login(client, "disp1")
    assert offered(client.get(f"/tickets/{number}").text) == ["dispatch", "escalate", "merge"]  # merge apart, last
    world.act(world.dispatcher, number, Step.dispatch,
              unit=GUANYINSI)
    forms.post(client, "/logout")
    login(client, "gys1")
    assert offered(client.get(f"/tickets/{number}").text) == ["sign", "return"]
    forms.post(client, "/logout")
    login(client, "xs1")  # another street's handler does not see the ticket at all
    assert client.get(f"/tickets/{number}").status_code == 404


def test_a_step_posted_twice_is_applied_once(world, client, session):
    number = world.ticket(unit=None)
    login(client, "disp1")
    version = session.scalar(select(Ticket.version).where(Ticket.number == number))
    before = events(session, number)
    r = step(client, number, "dispatch", {"unit": GUANYINSI, "next": "/tickets?state=new"}, version,
             follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/tickets?state=new&done=dispatch"
    assert events(session, number) == before + 1
    again = step(client, number, "dispatch", {"unit": XINGSHOU}, version)
    assert again.status_code == 409
    assert "此操作已经提交过" in again.text  # said in Chinese, on the ticket page as it is now
    assert events(session, number) == before + 1
    t = service.get(session, world.dispatcher, number)
    assert t.state == TicketState.dispatched and t.main_unit.code == GUANYINSI


def test_a_refused_step_is_said_inline_in_the_pages_language(world, client, session):
    number = world.ticket()
    login(client, "gys1")
    version = session.scalar(select(Ticket.version).where(Ticket.number == number))
    r = step(client, number, "return", {"reason": "  "}, version)
    assert r.status_code == 422 and "退单需要填写理由" in r.text
    assert 'class="error" role="alert"' in r.text
    r = step(client, number, "reply", {"text": "已处理"}, version)  # not signed yet
    assert r.status_code == 409 and "不能答复" in r.text
    client.cookies.set("lang", "en")
    r = step(client, number, "reply", {"text": "done"}, version)
    assert r.status_code == 409 and "cannot reply a ticket that is dispatched" in r.text
    assert events(session, number) == 2  # create, dispatch: nothing refused was written
    assert step(client, number, "no-such-step", {}, version).status_code == 404


def test_a_note_carries_its_photos(world, client, session):
    number = world.ticket()
    world.act(world.gys, number, Step.sign)
    login(client, "gys1")
    version = session.scalar(select(Ticket.version).where(Ticket.number == number))
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    r = client.post(f"/tickets/{number}/steps/note", data={"text": "已到现场查看", "expected_version": str(version),
                                                          "csrf_token": forms.token(client, f"/tickets/{number}")},
                    files=[("photos", ("site.png", png, "image/png"))], follow_redirects=False)
    assert r.status_code == 303
    listed = client.get(f"/api/v1/tickets/{number}/attachments").json()
    assert [a["filename"] for a in listed] == ["site.png"]


# --- every step through its form, for the role that takes it -------------------------------------------------------

OPERATOR = "op1"
POLICE, CGZF, ZJ = "ga-110115", "cgzf-110115", "zj-110115"  # 大兴区: 公安分局, 城管执法局, 住建委
CATEGORY = "01.01.003"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def as_(client, username: str) -> None:
    client.cookies.clear()
    login(client, username)


def form_version(html: str, name: str) -> str:
    """The expected_version the form of step `name` on this page carries."""
    found = re.search(rf'/steps/{name}"[^>]*>.*?name="expected_version" value="(\d+)"', html, re.S)
    assert found, f"no form for {name}"
    return found.group(1)


def click(client, number: str, name: str, data: dict | None = None, photos: list | None = None):
    """Fill the form of step `name` on the ticket's page as it is now and send it; the page the browser ends on."""
    page = client.get(f"/tickets/{number}").text
    fields = {**(data or {}), "expected_version": form_version(page, name),
              "csrf_token": forms.TOKEN.search(page).group(1)}
    files = [("photos", (f, PNG, "image/png")) for f in photos or []]
    r = client.post(f"/tickets/{number}/steps/{name}", data=fields, files=files or None, follow_redirects=False)
    if r.status_code != 303:
        return r
    assert r.headers["location"] == f"/tickets/{number}?done={name}"
    shown = client.get(r.headers["location"])
    assert shown.status_code == 200 and 'class="notice" role="status"' in shown.text  # what was done, said
    return shown


def state_of(session, number: str) -> Ticket:
    session.expire_all()
    return by_number(session, number, fresh=True)


@pytest.fixture
def op(world):
    return world.user(OPERATOR, Role.operator)


def test_dispatch_with_category_unit_and_co_units_prefilled_from_the_suggestion(world, client, session):
    number = world.ticket(unit=None)
    t = state_of(session, number)
    t.suggestion = json.dumps({"category_code": CATEGORY, "category_name": "安全隐患", "category_confidence": 0.9,
                               "category_reasons": [], "place": None, "unit_reasons": [], "urgency": "normal",
                               "urgency_reasons": [], "manual_reasons": [],
                               "main_unit": {"code": GUANYINSI, "name": "观音寺街道办事处"},
                               "co_units": [{"code": CGZF, "name": "大兴区城管执法局"}],
                               "duplicates": []}, ensure_ascii=False)
    session.flush()
    as_(client, "disp1")
    html = client.get(f"/tickets/{number}").text
    form = html[html.index("/steps/dispatch"):html.index("</form>", html.index("/steps/dispatch"))]
    assert f'name="unit" value="{GUANYINSI}"' in form and "观音寺街道办事处 · 智能派单建议" in form
    assert f'name="co_units" value="{CGZF}"' in form and "大兴区城管执法局" in form  # a row of its own
    assert f'name="category" value="{CATEGORY}"' in form
    assert re.search(r'<details class="step step-dispatch" id="[^"]+" open>', html)  # the main step, open
    # the co-units: the suggested chip, and one more typed as a code (as without the page's script)
    r = click(client, number, "dispatch", {"unit": GUANYINSI, "co_units": [CGZF, f"{ZJ}"], "category": CATEGORY})
    assert "已办理：派单" in r.text
    t = state_of(session, number)
    assert t.state == TicketState.dispatched and t.main_unit.code == GUANYINSI and t.category.code == CATEGORY
    assert {tu.unit.code for tu in t.units if tu.role.value == "co"} == {CGZF, ZJ}


def test_codes_typed_together_in_one_box_are_several_units(world, client, session):
    number = world.ticket(unit=None)
    as_(client, "disp1")
    click(client, number, "dispatch", {"unit": f" {GUANYINSI} ", "co_units": f"{CGZF}， {ZJ}"})
    t = state_of(session, number)
    assert {tu.unit.code for tu in t.units if tu.role.value == "co"} == {CGZF, ZJ}


def test_a_street_signs_notes_asks_time_whistles_and_replies_when_every_summoned_unit_reported(world, client,
                                                                                              session):
    number = world.ticket()
    as_(client, "gys1")
    html = client.get(f"/tickets/{number}").text
    assert re.search(r'<details class="step step-sign" id="[^"]+" open>', html)  # 签收 first and open
    assert "已办理：签收" in click(client, number, "sign").text
    assert state_of(session, number).state == TicketState.handling
    html = click(client, number, "note", {"text": "已到现场查看"}, photos=["site.png", "hall.png"]).text
    assert "已到现场查看" in html
    shown = re.findall(r'<img src="(/api/v1/attachments/\d+)" alt="([^"]+)"', html)  # the photos on the page
    assert sorted(alt for _src, alt in shown) == ["hall.png", "site.png"]
    assert all(client.get(src).content == PNG for src, _alt in shown)  # and they open, with the login cookie
    assert sorted(a["filename"] for a in client.get(f"/api/v1/tickets/{number}/attachments").json()) == [
        "hall.png", "site.png"]
    r = click(client, number, "request_extension", {"days": "45", "reason": "需协调多部门"})
    assert r.status_code == 422 and "延期天数须大于 0 且不超过 30 个工作日" in r.text
    assert 'max="30"' in r.text and "需协调多部门" in r.text  # what was typed is kept beside the message
    click(client, number, "request_extension", {"days": "3", "reason": "需协调多部门"})
    assert state_of(session, number).extension_days_requested == 3
    as_(client, "disp1")
    html = client.get(f"/tickets/{number}").text
    assert "承办单位申请延期 3 个工作日" in html
    click(client, number, "approve_extension")
    t = state_of(session, number)
    assert t.extensions == 1 and t.extension_days_requested is None
    as_(client, "gys1")
    click(client, number, "whistle", {"units": [POLICE], "reason": "群租房联合执法"})
    # the reply is not offered while a summoned unit has not reported: the page says whom it waits for
    html = client.get(f"/tickets/{number}").text
    assert "reply" not in offered(html) and "被召集单位尚未全部反馈，暂不能答复：北京市公安局大兴区分局" in html
    # a reply posted anyway (a form kept open from before the whistle) is refused, said in Chinese
    r = client.post(f"/tickets/{number}/steps/reply", data={"text": "已联合执法，群租房已整改",
                                                           "csrf_token": forms.TOKEN.search(html).group(1)})
    assert r.status_code == 409 and "被召集的单位尚未全部反馈（北京市公安局大兴区分局），暂不能答复" in r.text
    assert state_of(session, number).state == TicketState.handling
    as_(client, "police1")
    html = client.get(f"/tickets/{number}").text
    assert offered(html) == ["summons_sign", "summons_report"]
    click(client, number, "summons_sign")
    assert offered(client.get(f"/tickets/{number}").text) == ["summons_report"]  # reported for duty: not again
    click(client, number, "summons_report", {"text": "已清查，12人登记"}, photos=["report.png"])
    as_(client, "gys1")
    html = click(client, number, "reply", {"text": "已联合执法，群租房已整改"}).text
    assert state_of(session, number).state == TicketState.replied
    assert "已联合执法，群租房已整改" in html and offered(html) == []


def test_a_return_is_upheld_to_another_unit_then_rejected_back(world, client, session):
    number = world.ticket()
    as_(client, "gys1")
    html = client.get(f"/tickets/{number}").text
    assert 'class="steps-danger-group"' in html and offered(html) == ["sign", "return"]
    click(client, number, "return", {"reason": "地址属于兴寿镇"})
    as_(client, "disp1")
    html = client.get(f"/tickets/{number}").text
    assert offered(html) == ["uphold_return", "escalate", "reject_return"]
    r = click(client, number, "uphold_return", {"unit": GUANYINSI, "reason": "改派"})
    assert r.status_code == 422 and "改派须选择另一个单位" in r.text
    first_dispatch = state_of(session, number).dispatched_at
    world.clock.advance(timedelta(hours=3))  # past the dispatch deadline: the centre sent it on time, though
    click(client, number, "uphold_return", {"unit": XINGSHOU, "reason": "地址属于兴寿镇"})
    t = state_of(session, number)
    assert t.state == TicketState.dispatched and t.main_unit.code == XINGSHOU
    assert t.dispatched_at == first_dispatch and t.dispatched_at <= t.dispatch_by  # not late for the re-dispatch
    as_(client, "xs1")
    click(client, number, "return", {"reason": "也不是我们的"})
    as_(client, "disp1")
    click(client, number, "reject_return", {"reason": "经核实属于兴寿镇，请办理"})
    t = state_of(session, number)
    assert t.state == TicketState.dispatched and t.main_unit.code == XINGSHOU


def test_escalate_merge_and_withdraw(world, client, session, op):
    parent = world.ticket(unit=None)
    child = world.ticket(text="首座御园又有群租", unit=None)
    other = world.ticket(text="安四路黄线", unit=None)
    as_(client, "disp1")
    click(client, parent, "escalate", {"reason": "群众反映强烈，请加快"})
    assert state_of(session, parent).escalated
    html = client.get(f"/tickets/{child}").text
    assert 'name="confirm" value="1" required' in html  # merging asks for a confirmation, without a script
    r = click(client, child, "merge", {"parent": child, "confirm": "1"})
    assert r.status_code == 422 and "只能并入另一张未办结的工单" in r.text
    click(client, child, "merge", {"parent": parent, "confirm": "1"})
    assert state_of(session, child).state == TicketState.merged
    html = client.get(f"/tickets/{parent}").text
    assert "已并入本单的工单" in html and f'<a href="/tickets/{child}">{child}</a>' in html
    assert "首座御园又有群租" in html
    assert f'<a href="/tickets/{parent}">{parent}</a>' in client.get(f"/tickets/{child}").text
    as_(client, OPERATOR)
    assert offered(client.get(f"/tickets/{other}").text) == ["withdraw"]
    r = click(client, other, "withdraw", {"reason": " "})
    assert r.status_code == 422 and "撤回需要填写理由" in r.text
    click(client, other, "withdraw", {"reason": "市民来电撤回"})
    assert state_of(session, other).state == TicketState.withdrawn


def test_the_clock_and_smart_dispatch_show_as_the_system(world, client, session):
    from jiesu.permissions import CLOCK, SMART_DISPATCH, SYSTEM_USERNAMES
    from jiesu.routing.service import WORKER
    from jiesu.units.users import RESERVED_USERNAMES

    assert WORKER is SMART_DISPATCH and SYSTEM_USERNAMES <= RESERVED_USERNAMES
    number = world.ticket()
    world.act(CLOCK, number, Step.mark_overdue, deadline="sign")
    as_(client, "disp1")
    html = client.get(f"/tickets/{number}").text
    row = re.search(r'<tr class="event event-mark_overdue">(.*?)</tr>', html, re.S).group(1)
    assert '<span class="system-actor">系统</span>' in row and "管理员" not in row and "clock" not in row
    row = re.search(r'<tr class="event event-dispatch">(.*?)</tr>', html, re.S).group(1)
    assert "disp1" in row and "· 派单员" in row
    client.cookies.set("lang", "en")
    row = re.search(r'<tr class="event event-mark_overdue">(.*?)</tr>', client.get(f"/tickets/{number}").text,
                    re.S).group(1)
    assert '<span class="system-actor">System</span>' in row


def test_actor_label_for_other_pages():
    from types import SimpleNamespace

    from jiesu.web import pages
    from jiesu.web.i18n import translator

    ctx = {"_": translator("en")}
    assert pages.actor_label(ctx, SimpleNamespace(actor="clock", role="admin")) == "System"
    assert pages.actor_label(ctx, SimpleNamespace(actor="smart-dispatch", role="admin")) == "System"
    assert pages.actor_label({"_": translator("zh_CN")}, SimpleNamespace(actor="system", role="admin")) == "系统"
    assert pages.actor_label({"_": translator("zh_CN")}, SimpleNamespace(actor="disp1", role="dispatcher")) == (
        "disp1 · 派单员")


# --- the API's refusals in the client's language ----------------------------------------------------------------------

def test_the_apis_refusals_are_in_chinese_for_a_client_that_asks(world, client):
    number = world.ticket()
    r = client.post("/api/v1/auth/login", json={"username": "gys1", "password": "correct-horse-9"})
    who = {"Authorization": f"Bearer {r.json()['token']}"}
    r = client.post(f"/api/v1/tickets/{number}/reply", json={"text": "done"}, headers=who)
    assert r.status_code == 409
    assert r.json()["error"]["message"] == "cannot reply a ticket that is dispatched (only from: handling)"
    assert r.json()["error"]["code"] == "transition_not_allowed"
    for lang in ("zh-CN", "zh", "zh-CN,zh;q=0.9,en;q=0.8"):
        r = client.post(f"/api/v1/tickets/{number}/reply", json={"text": "done"},
                        headers={**who, "Accept-Language": lang})
        assert r.status_code == 409
        assert r.json()["error"] == {"code": "transition_not_allowed", "field": "state", "details": [], "message":
                                     "工单当前为「待签收」，不能答复（仅在「办理中」时可以）。页面已刷新，请查看最新状态。"}
    r = client.post(f"/api/v1/tickets/{number}/reply", json={"text": "done"},
                    headers={**who, "Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert r.json()["error"]["message"].startswith("cannot reply")
    r = client.post(f"/api/v1/tickets/{number}/return", json={"reason": " "},
                    headers={**who, "Accept-Language": "zh-CN"})
    assert r.status_code == 422 and r.json()["error"]["message"] == "退单需要填写理由。"
    # a refusal the table does not know stays as it is, in English
    r = client.get("/api/v1/units/no-such-unit", headers={**who, "Accept-Language": "zh-CN"})
    assert r.status_code == 404 and r.json()["error"]["message"] == "找不到单位 no-such-unit，请从列表中选择。"


def test_the_unit_picker_searches_by_name_code_and_district(world, client):
    r = client.post("/api/v1/auth/login", json={"username": "gys1", "password": "correct-horse-9"})
    who = {"Authorization": f"Bearer {r.json()['token']}"}

    def found(search: str) -> list[str]:
        r = client.get("/api/v1/units", params={"search": search, "active": "true", "limit": 12}, headers=who)
        assert r.status_code == 200, r.text
        return [u["code"] for u in r.json()["items"]]

    assert found("观音寺")[0] == GUANYINSI  # the street itself before its communities
    assert found("11011500900")[0] == GUANYINSI  # the start of a code
    assert POLICE in found("大兴 公安")  # a district's name and a word of the unit's name
    assert POLICE not in found("昌平 公安")
    assert found("没有这个单位") == [] and found("%") == []


def test_a_note_from_a_page_others_moved_on_is_taken_once_and_a_decision_is_refused(world, client, session):
    number = world.ticket()
    world.act(world.gys, number, Step.sign)
    world.act(world.gys, number, Step.whistle, units=[POLICE], reason="联合执法")
    world.act(world.gys, number, Step.request_extension, days=2, reason="联合执法需要时间")
    as_(client, "gys1")
    stale = client.get(f"/tickets/{number}").text
    world.act(world.police, number, Step.summons_sign)  # someone else moves the ticket on meanwhile
    fields = {"text": "街道牵头联合执法", "expected_version": form_version(stale, "note"),
              "seen": re.search(r'name="seen" value="(\d+)"', stale).group(1),
              "csrf_token": forms.TOKEN.search(stale).group(1)}
    r = client.post(f"/tickets/{number}/steps/note", data=fields, follow_redirects=False)
    assert r.status_code == 303  # a note adds to the record: what the police did meanwhile does not change it
    again = client.post(f"/tickets/{number}/steps/note", data=fields, follow_redirects=False)
    assert again.status_code == 409 and "此操作已经提交过" in again.text  # the same form twice: once
    assert ">街道牵头联合执法</textarea>" in again.text  # what was typed is kept beside the message
    notes = [e for e in state_of(session, number).events if e.action == "note"]
    assert [e.reason for e in notes] == ["街道牵头联合执法"]
    # a decision made on a page that is no longer the ticket is refused: the dispatcher sees it as it is now
    as_(client, "disp1")
    seen_by_dispatcher = client.get(f"/tickets/{number}").text
    world.act(world.police, number, Step.summons_report, text="已清查")
    fields = {"expected_version": form_version(seen_by_dispatcher, "approve_extension"),
              "seen": re.search(r'name="seen" value="(\d+)"', seen_by_dispatcher).group(1),
              "csrf_token": forms.TOKEN.search(seen_by_dispatcher).group(1)}
    r = client.post(f"/tickets/{number}/steps/approve_extension", data=fields, follow_redirects=False)
    assert r.status_code == 409 and "已清查" in r.text
    assert state_of(session, number).extensions == 0
    assert client.post(f"/tickets/{number}/steps/approve_extension", follow_redirects=False, data={
        **fields, "expected_version": form_version(r.text, "approve_extension")}).status_code == 303
