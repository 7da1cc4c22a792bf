"""The home page per role: what waits for the person logged in, counted over the tickets they can see, each count
linking to a list of exactly that many tickets; a community worker sees their community's tickets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from jiesu.permissions import SYSTEM, Role
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import jobs, service, waiting
from jiesu.tickets.models import Channel
from jiesu.tickets.rules import Step
from jiesu.units import users
from tests import forms

PASSWORD = "correct-horse-9"
GUANYINSI, XINGSHOU = "110115009000", "110114116000"  # 观音寺街道 (大兴区), 兴寿镇 (昌平区)
COMMUNITY = "110101013006"  # 广外南里社区 (the demo's community worker)
TEXT = "首座御园小区3号楼楼道堆满杂物，存在消防隐患，请尽快清理。"


class World:
    """A small city: every role, and tickets in each waiting state (see `build`)."""

    def __init__(self, session, clock, settings) -> None:
        self.session, self.clock, self.settings = session, clock, settings
        for name, role, unit in (("disp1", Role.dispatcher, None), ("op1", Role.operator, None),
                                 ("gys1", Role.unit_handler, GUANYINSI), ("xs1", Role.unit_handler, XINGSHOU),
                                 ("police1", Role.unit_handler, "ga-110115"), ("cb1", Role.callback_agent, None),
                                 ("sup1", Role.supervisor, None), ("gwnl1", Role.community_worker, COMMUNITY),
                                 ("cit1", Role.citizen, None)):
            setattr(self, name, users.actor_of(users.create(session, SYSTEM, clock, username=name, password=PASSWORD,
                                                            role=role, display_name=name, unit_code=unit)))

    def ticket(self, by=None, unit: str | None = GUANYINSI, **kw) -> str:
        new = service.NewRequest(text=kw.pop("text", TEXT), request_type=RequestType.complaint,
                                 channel=kw.pop("channel", Channel.hotline), address=kw.pop("address", "首座御园"),
                                 contact_name="张三丰", contact_phone="13812345678", **kw)
        number = service.create_request(self.session, by or self.op1, self.clock, self.settings, new).ticket.number
        if unit:
            self.act(self.disp1, number, Step.dispatch, unit=unit)
        return number

    def act(self, actor, number: str, step: Step, **data):
        return service.act(self.session, actor, self.clock, self.settings, number, step, service.StepInput(**data))

    def build(self) -> dict[str, str]:
        t = {"new": self.ticket(unit=None), "to_sign": self.ticket()}
        for key in ("extension", "whistle", "replied"):
            t[key] = self.ticket()
            self.act(self.gys1, t[key], Step.sign)
        self.act(self.gys1, t["extension"], Step.request_extension, reason="需协调多个部门", days=5)
        self.act(self.gys1, t["whistle"], Step.whistle, units=["ga-110115"], reason="群租，联合执法")
        self.act(self.gys1, t["replied"], Step.reply, text="已清理楼道堆物")
        t["returned"] = self.ticket(unit=XINGSHOU)
        self.act(self.xs1, t["returned"], Step.return_, reason="不属本镇辖区")
        t["emergency"] = self.ticket(unit=XINGSHOU, urgency=Urgency.emergency, text="安四路井盖丢失")
        t["community"] = self.ticket(unit=COMMUNITY, area_code=COMMUNITY, text="广外南里消防通道被占",
                                     address="广外南里")
        t["community_street"] = self.ticket(unit=GUANYINSI, area_code=COMMUNITY, text="广外南里路灯不亮",
                                            address="广外南里")
        t["citizen"] = self.ticket(by=self.cit1, unit=None, channel=Channel.app, text="小区门口路灯坏了")
        # 40 minutes on: the emergency's sign deadline (30 minutes) passed; the reply deadline (2 hours) is today
        self.clock.advance(timedelta(minutes=40))
        jobs.tick(self.session, self.clock, self.settings)
        self.session.commit()
        return t


@pytest.fixture
def world(session, clock, settings) -> World:
    return World(session, clock, settings)


def login(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


CARD = re.compile(r'<a class="card waiting-([a-z_]+)[^"]*" href="([^"]+)" data-count="(\d+)">')


def cards(client) -> dict[str, tuple[int, str]]:
    """key -> (count, link) of the home page's counts."""
    html = client.get("/").text
    return {key: (int(n), href.replace("&amp;", "&")) for key, href, n in CARD.findall(html)}


def listed(client, href: str) -> int:
    """How many tickets the list a count links to says it has."""
    html = client.get(href).text
    found = re.search(r"共 (\d+) 个结果", html)
    assert found, f"{href} shows no total"
    return int(found.group(1))


def test_every_role_sees_what_waits_for_it(world, client):
    t = world.build()
    expected = {
        "disp1": {"to_dispatch": 2, "returned": 1, "extension": 1, "duplicates": 0, "overdue": 1},
        # due today: the deadline that runs now, not passed yet (signing for a dispatched ticket, the reply for
        # one being handled), as the workbench counts down: gys1's two to sign are due within the hour; xs1's
        # emergency missed its sign deadline (overdue, not due)
        "gys1": {"to_sign": 2, "handling": 2, "due_today": 2, "overdue": 0, "summoned": 0},
        "xs1": {"to_sign": 1, "handling": 0, "due_today": 0, "overdue": 1, "summoned": 0},
        "police1": {"to_sign": 0, "handling": 0, "due_today": 0, "overdue": 0, "summoned": 1},
        "gwnl1": {"to_sign": 1, "handling": 0, "due_today": 1, "overdue": 0, "summoned": 0, "community": 2},
        "sup1": {"sign_overdue": 1, "reply_overdue": 0, "escalated": 0},
        "op1": {"calls_today": 9, "answered_today": 0, "to_dispatch": 2},
    }
    for username, want in expected.items():
        login(client, username)
        got = cards(client)
        assert {k: n for k, (n, _href) in got.items()} == want, username
        for key, (n, href) in got.items():
            if href.startswith("/tickets"):  # the link lands on a list of exactly that many
                assert listed(client, href) == n, (username, key, href)
        client.post("/logout", data={"csrf_token": forms.token(client, "/")})
    # a citizen's counts are their app's (/app: 办理中, 待评价), where the home page sends them
    login(client, "cit1")
    assert client.get("/", follow_redirects=False).headers["location"] == "/app"
    assert '<a class="app-count" href="/app/requests#mine"><b>1</b>' in client.get("/app").text
    client.post("/logout", data={"csrf_token": forms.token(client, "/app")})
    # the callback agent's count is the callback desk's queue, once the clock has queued the replied ticket
    world.clock.advance(timedelta(hours=1))
    jobs.tick(world.session, world.clock, world.settings)
    world.session.commit()
    login(client, "cb1")
    assert cards(client)["callback"] == (1, "/callbacks")
    assert t["replied"] in client.get("/callbacks").text


def test_links_go_to_the_right_lists(world, client):
    t = world.build()
    login(client, "gys1")
    got = cards(client)
    assert got["to_sign"][1] == "/tickets?state=dispatched&mine=1"
    html = client.get(got["to_sign"][1]).text
    assert t["to_sign"] in html and t["community_street"] in html and t["extension"] not in html
    login(client, "disp1")
    got = cards(client)
    assert got["to_dispatch"][1] == "/queue" and t["new"] in client.get("/queue").text
    assert got["returned"][1] == "/queue?tab=returned" and t["returned"] in client.get("/queue?tab=returned").text
    assert got["extension"][1] == "/queue?tab=extension"
    assert t["extension"] in client.get("/queue?tab=extension").text
    assert t["extension"] in client.get("/tickets?extension=1").text  # the list has the filter too
    assert got["overdue"][1] == "/tickets?overdue=1&open=1"
    assert t["emergency"] in client.get(got["overdue"][1]).text
    login(client, "sup1")
    got = cards(client)
    assert got["sign_overdue"][1] == "/tickets?open=1&late=sign"  # still unsigned: the list of exactly those
    assert 'href="/assessment"' in client.get("/").text  # the month's assessment
    login(client, "xs1")
    assert t["emergency"] in client.get(cards(client)["overdue"][1]).text
    # nonsense values of the waiting filters are ignored, as the list's other filters' are
    r = client.get("/tickets", params={"open": "yes", "mine": "x" * 500, "due": "tomorrow", "extension": "2"})
    assert r.status_code == 200 and listed(client, "/tickets?open=yes&due=tomorrow") == listed(client, "/tickets")


def test_a_community_worker_sees_their_communitys_tickets(world, client):
    t = world.build()
    login(client, "gwnl1")
    html = client.get("/tickets").text
    assert t["community"] in html and t["community_street"] in html
    assert t["to_sign"] not in html and t["new"] not in html
    assert client.get(f"/tickets/{t['community_street']}").status_code == 200
    assert client.get(f"/tickets/{t['to_sign']}").status_code == 404


def test_counts_are_one_statement(world, session, clock, settings):
    world.build()
    from sqlalchemy import event

    statements = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        counts = waiting.counts(session, world.gys1, clock.now(), settings.tz)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert [c.key for c in counts] == ["to_sign", "handling", "due_today", "overdue", "summoned"]
    assert len([s for s in statements if s.startswith("SELECT")]) == 1


def test_visitors_see_the_city(client):
    html = client.get("/").text
    assert "待我处理" not in html and "社区（村）" in html


def test_every_count_is_of_open_tickets():
    """counts() reads open tickets only: every filter must say so itself, or its list would show more."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from jiesu.permissions import Actor
    from jiesu.tickets.rules import OPEN_STATES

    for role in Role:
        for c in waiting.filters(Actor("x", role, unit_id=1), datetime(2024, 9, 30, tzinfo=UTC), ZoneInfo("UTC")):
            f = c.filter
            assert f.open or f.state in OPEN_STATES or f.summoned or f.due_from or f.extension_requested, (role, c.key)
