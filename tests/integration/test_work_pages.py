"""The unit workbench (/work): a unit's tickets nearest deadline first with a countdown in business time, the tabs
and their counts, and the steps taken from it: sign in one click, whistle, the summoned unit's sign and report,
the reply that waits for the reports."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from jiesu.taxonomy.models import Urgency
from jiesu.tickets import service, workbench
from jiesu.tickets.models import SummonsState, Ticket
from jiesu.tickets.rules import Step, TicketState
from tests import forms
from tests.integration.test_ticket_pages import XINGSHOU, World, login

pytestmark = pytest.mark.integration
POLICE, CHENGGUAN = "ga-110115", "cgzf-110115"


@pytest.fixture
def world(session, clock, settings) -> World:
    return World(session, clock, settings)


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="work-item[^"]*" id="t-([0-9-]+)"', html)


def card(html: str, number: str) -> str:
    start = html.index(f'id="t-{number}"')
    end = html.find('<li class="work-item', start)
    return html[start:end if end > 0 else len(html)]


def version(session, number: str) -> str:
    session.expire_all()
    return str(session.scalar(select(Ticket.version).where(Ticket.number == number)))


def step(client, session, number: str, name: str, data: dict | None = None, **kw):
    fields = {**(data or {}), "expected_version": version(session, number), "next": "/work"}
    return forms.post(client, f"/tickets/{number}/steps/{name}", fields, page="/work", **kw)


def test_nearest_deadline_first_with_a_countdown_in_business_time(world, client):
    # Monday 30 September 2024, 10:00: the National Day holiday (1-7 October) lies ahead
    to_sign = world.ticket(text="楼道堆物")  # sign within 1 h: 11:00
    urgent = world.ticket(text="燃气泄漏", urgency=Urgency.emergency)  # sign within 30 min: 10:30
    handling = world.ticket(text="群租")
    world.act(world.gys, handling, Step.sign)  # reply within 7 business days: 15 October 10:00
    returned = world.ticket(text="不是我们的")
    world.act(world.gys, returned, Step.return_, reason="属于兴寿镇")
    world.ticket(text="兴寿镇的", unit=XINGSHOU)
    world.clock.advance(timedelta(minutes=20))
    login(client, "gys1")
    html = client.get("/work").text
    assert cards(html) == [urgent, to_sign, handling, returned]
    assert "剩 10 分钟" in card(html, urgent) and "签收时限" in card(html, urgent)
    assert "剩 40 分钟" in card(html, to_sign)
    # 14 days on the calendar, but 7 October and the days before count nothing: 6 business days and 23 hours
    assert "剩 6 个工作日 23 小时" in card(html, handling) and "答复时限" in card(html, handling)
    assert '<time datetime="2024-10-15T10:00:00+08:00">' in card(html, handling)
    assert "等待中心审核" in card(html, returned)
    assert "is-overdue" not in html
    world.clock.advance(timedelta(minutes=15))  # 10:35: the emergency's sign deadline passed 5 minutes ago
    html = client.get("/work").text
    assert 'class="work-item kind-sign is-overdue"' in html and "超时 5 分钟" in card(html, urgent)
    tabs = dict(re.findall(r'class="tab-(\w+)[^"]*">[^<]*<small>(\d+)</small>', html))
    assert tabs == {"all": "4", "sign": "2", "handling": "1", "summoned": "0", "returned": "1", "overdue": "1",
                    "today": "1"}
    assert cards(client.get("/work", params={"tab": "overdue"}).text) == [urgent]
    assert cards(client.get("/work", params={"tab": "today"}).text) == [to_sign]
    assert cards(client.get("/work", params={"tab": "handling"}).text) == [handling]
    assert cards(client.get("/work", params={"tab": "nonsense"}).text) == [urgent, to_sign, handling, returned]
    english = client.get("/work", params={"lang": "en"}).text
    assert "6 business day(s) 23 h left" in card(english, handling) and "5 min overdue" in card(english, urgent)
    assert "Due today <small>1</small>" in english


def test_sign_from_the_list_in_one_click(world, client, session):
    number = world.ticket()
    login(client, "gys1")
    html = client.get("/work").text
    assert f'action="/tickets/{number}/steps/sign" class="one-click"' in html
    assert f'name="next" value="/work?t={number}"' in card(html, number)  # back here, to this ticket
    r = step(client, session, number, "sign", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/work?done=sign"
    html = client.get(f"/work?t={number}&done=sign").text
    assert f'已办理：签收 · <a href="/tickets/{number}">' in html and "work-item kind-handling just-done" in html
    assert "剩 7 个工作日" in card(html, number)  # handling now: the reply's countdown
    assert 'steps/sign"' not in card(html, number)
    assert service.get(session, world.gys, number).state == TicketState.handling


def test_whistle_then_the_summoned_unit_signs_and_reports_and_only_then_the_reply(world, client, session):
    number = world.ticket()
    world.act(world.gys, number, Step.sign)
    login(client, "gys1")
    html = client.get("/work").text
    # the picker: the district's departments, ticked
    assert f'name="units" value="{POLICE}"' in html and f'name="units" value="{CHENGGUAN}"' in html
    r = step(client, session, number, "whistle", {"units": [POLICE], "reason": "群租联合执法"}, follow_redirects=False)
    assert r.status_code == 303
    html = client.get("/work").text
    mine = card(html, number)
    assert re.search(r"<b>北京市公安局大兴区分局</b>\s*<span class=\"summons-state\">待报到</span>", mine), mine
    assert "被召集单位尚未全部反馈，暂不能答复" in mine and 'steps/reply"' not in mine
    r = step(client, session, number, "reply", {"text": "已处理"})  # posted anyway: refused, said why
    assert r.status_code == 409
    forms.post(client, "/logout", page="/work")

    login(client, "police1")
    html = client.get("/work").text
    assert cards(html) == [number] and "被吹哨" in card(html, number)
    assert f'action="/tickets/{number}/steps/summons_sign" class="one-click"' in html
    assert 'steps/summons_report"' in html and 'steps/reply"' not in html and 'steps/whistle"' not in html
    assert step(client, session, number, "summons_sign", follow_redirects=False).status_code == 303
    assert 'steps/summons_sign"' not in client.get("/work").text
    r = step(client, session, number, "summons_report", {"text": "已清理群租，拆除隔断"}, follow_redirects=False)
    assert r.status_code == 303
    assert cards(client.get("/work").text) == []  # reported: nothing waits for the police any more
    forms.post(client, "/logout", page="/tickets")

    login(client, "gys1")
    mine = card(client.get("/work").text, number)
    assert "已清理群租，拆除隔断" in mine and "暂不能答复" not in mine and 'steps/reply"' in mine
    assert step(client, session, number, "reply", {"text": "已联合执法"}, follow_redirects=False).status_code == 303
    t = service.get(session, world.gys, number)
    assert t.state == TicketState.replied
    assert [tu.state for tu in t.units if tu.unit.code == POLICE] == [SummonsState.reported]


def test_another_streets_handler_does_not_see_the_ticket(world, client):
    number = world.ticket()
    login(client, "xs1")
    html = client.get("/work").text
    assert number not in html and cards(html) == []
    assert "没有待办的工单" in html


def test_only_unit_members_have_a_workbench(world, client):
    world.ticket()
    r = client.get("/work", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/work"
    login(client, "disp1")
    r = client.get("/work")
    assert r.status_code == 403
    assert 'href="/work"' not in client.get("/tickets").text
    forms.post(client, "/logout")
    login(client, "gys1")
    assert '<a href="/work">工作台</a>' in client.get("/tickets").text


def test_the_list_reads_in_a_fixed_number_of_statements(world, session, engine, settings, clock):
    def statements(n_tickets: int) -> int:
        for _ in range(n_tickets):
            number = world.ticket()
            world.act(world.gys, number, Step.sign)
            world.act(world.gys, number, Step.whistle, units=[POLICE, CHENGGUAN], reason="联合执法")
        session.expire_all()
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            bench = workbench.workbench(session, world.gys, clock, settings)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert all(item.joint for item in bench.items)
        return len(seen), bench.total

    few, total_few = statements(2)
    many, total_many = statements(5)
    assert (total_few, total_many) == (2, 7)
    # tab counts, the rows, their units, the deadline policies, the calendar: as many for 7 tickets as for 2
    assert few == many == 5


def test_deadlines_on_the_clock_count_the_holiday(world, client):
    # 5 October 2024 is a day of the National Day holiday; an emergency must be answered within 2 clock hours
    world.clock.advance(timedelta(days=5))
    urgent = world.ticket(text="燃气泄漏", urgency=Urgency.emergency)
    world.act(world.gys, urgent, Step.sign)
    normal = world.ticket(text="楼道堆物")
    world.act(world.gys, normal, Step.sign)
    world.clock.advance(timedelta(minutes=20))
    login(client, "gys1")
    html = client.get("/work").text
    assert cards(html) == [urgent, normal]
    assert "剩 1 小时 40 分钟" in card(html, urgent) and "上班时间" not in card(html, urgent)
    # the business-day deadline waits for the holiday to end: 7 business days from the 8th, less nothing yet
    assert "剩 7 个工作日" in card(html, normal)


def test_the_step_forms_rendered_once_are_each_cards_own(world, client, session):
    a, b = world.ticket(text="楼道堆物"), world.ticket(text="群租")
    world.act(world.gys, a, Step.sign)
    world.act(world.gys, b, Step.sign)
    world.act(world.gys, b, Step.note, text="已到现场")  # a version of its own
    world.act(world.gys, b, Step.whistle, units=[POLICE], reason="联合执法")
    login(client, "gys1")
    html = client.get("/work", params={"tab": "handling"}).text
    assert sorted(cards(html)) == sorted([a, b]) and version(session, a) != version(session, b)
    fields_b = version(session, b)
    for number in (a, b):
        mine = card(html, number)
        assert f'action="/tickets/{number}/steps/note"' in mine and f'id="s-{number}-note-text"' in mine
        assert f'<input type="hidden" name="expected_version" value="{version(session, number)}">' in mine
        assert f'<input type="hidden" name="next" value="/work?tab=handling&amp;t={number}">' in mine
        assert 'name="seen" value=""' in mine
    assert "zzjiesu" not in html
    assert html.count('<script src="/static/ticket.js" defer>') == 1  # once for the page, not once a card
    # the district's departments once for the page; those a card's ticket has summoned already, named on the card
    assert html.count(f'name="units" value="{POLICE}"') == 1 and '<template id="summon-picks">' in html
    assert f'data-already="{POLICE}"' in card(html, b) and 'data-already=""' in card(html, a)
    # the note form as the card has it (its version, its way back) is taken on that card's ticket
    mine = card(html, a)
    form = mine[mine.index(f'action="/tickets/{a}/steps/note"'):]
    fields = dict(re.findall(r'<input type="hidden" name="(expected_version|next)" value="([^"]*)">', form)[:2])
    before = int(version(session, a))
    r = forms.post(client, f"/tickets/{a}/steps/note", {**fields, "next": fields["next"].replace("&amp;", "&"),
                                                         "text": "第二次到现场"}, page="/work", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/work?tab=handling&t={a}")
    assert int(version(session, a)) == before + 1 and version(session, b) == fields_b


def test_forms_that_read_the_ticket_are_rendered_for_each_card():
    from types import SimpleNamespace

    from markupsafe import Markup

    from jiesu.web.work_pages import StepForms

    calls = []

    def macro(t, steps, back, script):  # like a dispatch form: reads the ticket's category
        calls.append(t.number)
        return Markup(f'<form action="/tickets/{t.number}/steps/{steps[0].value}">{t.category}</form>')

    forms_once = StepForms()
    one = SimpleNamespace(number="20240930-000001", version=3, category="市容")
    two = SimpleNamespace(number="20240930-000002", version=5, category="供暖")
    assert forms_once(macro, one, [Step.note], "/w") == f'<form action="/tickets/{one.number}/steps/note">市容</form>'
    assert forms_once(macro, two, [Step.note], "/w") == f'<form action="/tickets/{two.number}/steps/note">供暖</form>'
    assert calls == ["zzjiesunumberzz", "20240930-000001", "20240930-000002"]


def test_a_page_of_the_list_is_cut_in_the_deadlines_order(world, session, clock, settings):
    numbers = [world.ticket(text=f"第{i}件") for i in range(5)]  # signed one after another: the same order of deadline
    first = workbench.workbench(session, world.gys, clock, settings, page=1, page_size=2)
    second = workbench.workbench(session, world.gys, clock, settings, page=2, page_size=2)
    last = workbench.workbench(session, world.gys, clock, settings, page=3, page_size=2)
    assert (first.total, first.pages) == (5, 3)
    assert [i.ticket.number for i in first.items + second.items + last.items] == numbers
