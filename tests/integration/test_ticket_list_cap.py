"""The ticket list at a city's scale (benchmarks/pages.py): its count stops at a cap and says "more than", a
page is the same rows whichever way it is read, and a unit sees the tickets it co-handles through the
index-friendly form of its visibility (InSelect: `= ANY(ARRAY(...))` on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from jiesu.permissions import Role
from jiesu.tickets import reading
from jiesu.tickets.rules import Step
from jiesu.web import pages
from tests.integration.test_ticket_pages import GUANYINSI, XINGSHOU, World, login, numbers_on


def test_the_count_stops_at_the_cap_and_the_page_says_more_than(session, clock, settings, client, monkeypatch):
    world = World(session, clock, settings)
    numbers = []
    for i in range(4):
        numbers.append(world.ticket(text=f"楼道堆物 {i}"))
        clock.advance(timedelta(minutes=1))
    newest = numbers[::-1]
    rows, total = reading.list_tickets(session, world.dispatcher, reading.TicketFilter(), limit=2, count_cap=2)
    assert total == 3 and [t.number for t in rows] == newest[:2]  # counted up to cap + 1: "more than 2"
    rows, total = reading.list_tickets(session, world.dispatcher, reading.TicketFilter(), limit=2, offset=2,
                                       count_cap=10)
    assert total == 4 and [t.number for t in rows] == newest[2:]
    login(client, "disp1")
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    monkeypatch.setattr(pages, "LIST_COUNT_CAP", 3)
    page1 = client.get("/tickets").text
    assert numbers_on(page1) == newest[:2]
    assert "超过 3 个结果" in page1 and "第 1 页" in page1 and "共 " not in page1
    assert 'href="/tickets?page=2"' in page1  # a full page: there may be more
    page2 = client.get("/tickets", params={"page": 2}).text
    assert numbers_on(page2) == newest[2:]
    past = client.get("/tickets", params={"page": 9}).text  # past the end: counted to the end, the last page
    assert numbers_on(past) == newest[2:] and "共 4 个结果" in past and "第 2 / 2 页" in past
    monkeypatch.setattr(pages, "LIST_COUNT_CAP", 4)
    page2 = client.get("/tickets", params={"page": 2}).text
    assert "共 4 个结果" in page2 and "第 2 / 2 页" in page2 and 'href="/tickets?page=3"' not in page2
    english = client.get("/tickets", params={"lang": "en"}).text
    assert "4 result(s)" in english
    monkeypatch.setattr(pages, "LIST_COUNT_CAP", 3)
    assert "More than 3 results" in client.get("/tickets", params={"lang": "en"}).text


def test_a_unit_sees_the_tickets_it_co_handles_and_no_others(session, clock, settings, client):
    world = World(session, clock, settings)
    mine = world.ticket()
    co = world.ticket(unit=None)
    world.act(world.dispatcher, co, Step.dispatch, unit=XINGSHOU, co_units=[GUANYINSI])
    theirs = world.ticket(unit=XINGSHOU)
    assert world.gys.role == Role.unit_handler
    rows, total = reading.list_tickets(session, world.gys, reading.TicketFilter())
    assert total == 2 and {t.number for t in rows} == {mine, co}
    assert reading.get(session, world.gys, co).number == co
    login(client, "gys1")
    assert set(numbers_on(client.get("/tickets").text)) == {mine, co}
    assert client.get(f"/tickets/{theirs}").status_code == 404
    rows, total = reading.list_tickets(session, world.xs, reading.TicketFilter())
    assert total == 2 and {t.number for t in rows} == {co, theirs}
