"""The ticket pages: the list with its filters, and one ticket with its deadlines, units and timeline."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from jiesu.permissions import SYSTEM, Role
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import jobs, service
from jiesu.tickets.models import Channel
from jiesu.tickets.rules import Step
from jiesu.units import users
from jiesu.web import i18n, pages
from tests import forms

PASSWORD = "correct-horse-9"
GUANYINSI, XINGSHOU = "110115009000", "110114116000"  # 观音寺街道 (大兴区), 兴寿镇 (昌平区)
DAXING, CHANGPING = "110115000000", "110114000000"
LONG_TEXT = ("首座御园小区3号楼2单元有群租房，一套房子隔成十几间，住了二十多人，"
             "楼道堆满杂物，存在消防隐患，请有关部门尽快查处。")


class World:
    def __init__(self, session, clock, settings) -> None:
        self.session, self.clock, self.settings = session, clock, settings
        self.dispatcher = self.user("disp1", Role.dispatcher)
        self.gys = self.user("gys1", Role.unit_handler, GUANYINSI)
        self.xs = self.user("xs1", Role.unit_handler, XINGSHOU)
        self.police = self.user("police1", Role.unit_handler, "ga-110115")

    def user(self, username: str, role: Role, unit: str | None = None):
        return users.actor_of(users.create(self.session, SYSTEM, self.clock, username=username, password=PASSWORD,
                                           role=role, display_name=username, unit_code=unit))

    def ticket(self, text: str = LONG_TEXT, unit: str | None = GUANYINSI, **kw) -> str:
        new = service.NewRequest(text=text, request_type=RequestType.complaint, channel=Channel.hotline,
                                 address=kw.pop("address", "首座御园3号楼"), contact_name="张三丰",
                                 contact_phone="13812345678", **kw)
        number = service.create_request(self.session, self.dispatcher, self.clock, self.settings, new).ticket.number
        if unit:
            self.act(self.dispatcher, number, Step.dispatch, unit=unit)
        return number

    def act(self, actor, number: str, step: Step, **data):
        return service.act(self.session, actor, self.clock, self.settings, number, step, service.StepInput(**data))


@pytest.fixture
def world(session, clock, settings) -> World:
    return World(session, clock, settings)


def login(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


def numbers_on(html: str) -> list[str]:
    return re.findall(r'<a href="/tickets/([0-9]{8}-[0-9]{6})">', html)


def test_anonymous_visitors_are_sent_to_log_in(world, client):
    number = world.ticket()
    r = client.get("/tickets", params={"state": "dispatched"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/tickets%3Fstate%3Ddispatched"
    r = client.get(f"/tickets/{number}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/tickets/{number}"
    assert 'href="/tickets"' not in client.get("/").text  # no nav link before logging in


def test_list_for_a_dispatcher(world, client):
    first = world.ticket()
    world.clock.advance(timedelta(minutes=5))
    second = world.ticket(text="安四路黄线施划不清", unit=XINGSHOU, urgency=Urgency.emergency)
    waiting = world.ticket(text="车太多了", unit=None)
    login(client, "disp1")
    r = client.get("/tickets")
    assert r.status_code == 200
    html = r.text
    assert '<a href="/tickets">工单</a>' in html  # the nav link
    assert numbers_on(html) == [waiting, second, first]  # newest first
    assert "共 3 个结果" in html
    assert LONG_TEXT[:40] + "…" in html and LONG_TEXT not in html
    assert "安四路黄线施划不清" in html and "车太多了" in html
    assert "观音寺街道办事处" in html and "兴寿镇人民政府" in html
    assert "待签收" in html and "待派单" in html
    # created at 10:00 and 10:05 in Beijing (02:00 and 02:05 UTC)
    assert '<time datetime="2024-09-30T10:00:00+08:00">2024-09-30 10:00</time>' in html
    assert '<time datetime="2024-09-30T10:05:00+08:00">2024-09-30 10:05</time>' in html
    # the emergency must be answered within 2 hours of its dispatch
    assert '<time datetime="2024-09-30T12:05:00+08:00">2024-09-30 12:05</time>' in html
    assert "badge overdue" not in html


def test_list_filters_and_pages(world, client, monkeypatch):
    a = world.ticket(text="楼道堆物 甲", area_code=GUANYINSI)
    b = world.ticket(text="噪音扰民 乙", unit=XINGSHOU, urgency=Urgency.emergency, area_code=XINGSHOU)
    c = world.ticket(text="噪音扰民 丙", unit=None)
    login(client, "disp1")
    assert numbers_on(client.get("/tickets", params={"state": "new"}).text) == [c]
    assert numbers_on(client.get("/tickets", params={"state": "dispatched"}).text) == [b, a]
    assert numbers_on(client.get("/tickets", params={"q": "噪音"}).text) == [c, b]
    assert numbers_on(client.get("/tickets", params={"q": a}).text) == [a]
    assert numbers_on(client.get("/tickets", params={"district": CHANGPING}).text) == [b]
    assert numbers_on(client.get("/tickets", params={"district": DAXING}).text) == [a]
    # nonsense filter values are ignored, not errors
    assert numbers_on(client.get("/tickets", params={"state": "nope", "overdue": "x", "district": "1"}).text) == [
        c, b, a]
    world.clock.advance(timedelta(hours=1))  # b's sign deadline (30 min) passed, a's (1 h) just not
    jobs.tick(world.session, world.clock, world.settings)
    html = client.get("/tickets", params={"overdue": "1"}).text
    assert numbers_on(html) == [b]
    assert "签收超期" in html
    assert numbers_on(client.get("/tickets", params={"overdue": "0"}).text) == [c, a]
    world.clock.advance(timedelta(hours=2))
    jobs.tick(world.session, world.clock, world.settings)
    html = client.get("/tickets", params={"overdue": "1"}).text
    assert '<span class="badge overdue">超期</span>' in html and "督办" in html
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    page1 = client.get("/tickets").text
    assert numbers_on(page1) == [c, b] and "第 1 / 2 页" in page1 and 'href="/tickets?page=2"' in page1
    page2 = client.get("/tickets", params={"page": 2}).text
    assert numbers_on(page2) == [a] and 'href="/tickets"' in page2
    assert numbers_on(client.get("/tickets", params={"page": 99}).text) == [a]  # past the end: the last page
    r = client.get("/tickets", params={"state": "dispatched", "q": "噪音", "page": 1})
    assert numbers_on(r.text) == [b]


def test_a_unit_handler_sees_only_its_tickets(world, client):
    mine = world.ticket()
    theirs = world.ticket(unit=XINGSHOU)
    login(client, "gys1")
    html = client.get("/tickets").text
    assert numbers_on(html) == [mine]
    assert client.get(f"/tickets/{mine}").status_code == 200
    r = client.get(f"/tickets/{theirs}")
    assert r.status_code == 404 and "页面不存在" in r.text
    assert client.get("/tickets/20240930-999999").status_code == 404


def test_ticket_page(world, client):
    number = world.ticket(unit=None, category_code="01.01.003", urgency=Urgency.emergency, area_code=GUANYINSI,
                          title="群租房消防隐患")
    world.clock.advance(timedelta(minutes=10))
    world.act(world.dispatcher, number, Step.dispatch, unit=GUANYINSI, co_units=["cgzf-110115"])
    world.clock.advance(timedelta(minutes=50))  # the sign deadline (30 min) has passed
    jobs.tick(world.session, world.clock, world.settings)
    world.act(world.gys, number, Step.sign)
    world.act(world.gys, number, Step.note, text="已上门核实")
    world.act(world.gys, number, Step.whistle, units=["ga-110115"], reason="群租需公安联合执法")
    world.act(world.police, number, Step.summons_sign)
    login(client, "disp1")
    r = client.get(f"/tickets/{number}")
    assert r.status_code == 200
    html = r.text
    assert LONG_TEXT in html and "群租房消防隐患" in html
    assert "首座御园3号楼" in html and "北京市/大兴区/观音寺街道" in html
    assert "城乡建设/安全生产/安全隐患" in html
    assert "紧急" in html and "投诉" in html and "12345热线" in html
    # the contact is masked, and the real one is nowhere on the page
    assert "张**" in html and "138****5678" in html
    assert "13812345678" not in html and "张三丰" not in html
    # units: main, co, the district's copy, the summoned police with its state
    for name in ("观音寺街道办事处", "大兴区城市管理综合行政执法局", "大兴区人民政府", "北京市公安局大兴区分局"):
        assert name in html
    for label in ("主办", "协办", "抄送", "吹哨报到", "已报到"):
        assert f"<td>{label}</td>" in html
    # deadlines: dispatched in time, signed late, the reply still running
    marks = re.findall(r'<span class="mark mark-(\w+)">([^<]+)</span>', html)
    assert marks == [("met", "按时"), ("late", "超期完成"), ("pending", "未到期")]
    # the timeline: every event, in order, in Beijing time, with who did it
    ticket = service.get(world.session, world.dispatcher, number)
    events = sorted(ticket.events, key=lambda e: e.seq)
    rows = re.findall(r'<tr class="event event-(\w+)">', html)
    assert rows == [e.action for e in events] == ["create", "dispatch", "mark_overdue", "sign", "note", "whistle",
                                                  "summons_sign"]
    for label in ("受理", "派单", "超期", "签收", "办理进展", "吹哨报到", "报到"):
        assert f"<b>{label}</b>" in html
    assert "待派单 → 待签收" in html and "待签收 → 办理中" in html
    # the clock's overdue mark is the system's, not an administrator's (issue 14)
    assert '<span class="system-actor">系统</span>' in html and "clock" not in html and "· 管理员" not in html
    assert "· 派单员" in html and "· 承办人" in html
    assert "签收超期" in html and "已上门核实" in html and "群租需公安联合执法" in html
    assert '<time datetime="2024-09-30T10:10:00+08:00">2024-09-30 10:10</time>' in html  # the dispatch
    assert '<time datetime="2024-09-30T11:00:00+08:00">2024-09-30 11:00</time>' in html  # the clock's mark
    assert "+00:00" not in html


def test_ticket_page_of_a_closed_ticket_without_callback(world, client):
    number = world.ticket(no_callback=True, text="路灯不亮")
    world.act(world.gys, number, Step.sign)
    world.act(world.gys, number, Step.reply, text="已修复")
    jobs.tick(world.session, world.clock, world.settings)
    login(client, "gys1")
    html = client.get(f"/tickets/{number}").text
    assert "已办结" in html and "市民不需回访" in html
    assert re.findall(r'<span class="mark mark-(\w+)">', html) == ["met", "met", "met"]
    assert re.findall(r'<tr class="event event-(\w+)">', html) == ["create", "dispatch", "sign", "reply", "close"]


def test_ticket_pages_in_english(world, client):
    i18n.catalogue.cache_clear()
    number = world.ticket()
    login(client, "disp1")
    html = client.get("/tickets", params={"lang": "en"}).text
    assert '<a href="/tickets">Tickets</a>' in html
    assert "To sign" in html and "待签收" not in html
    html = client.get(f"/tickets/{number}").text  # the cookie keeps English
    assert "Timeline" in html and "<b>Received</b>" in html and "<b>Dispatch</b>" in html
