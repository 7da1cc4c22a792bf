"""The dispatcher's queue (/queue): the tickets waiting for dispatch by dispatch deadline with smart dispatch's
suggestion in each row, accepted in one action (category and unit) or corrected; the returns ruled on, the
extension requests approved or refused, the suggested duplicates merged; the overdue filter that counts the
dispatch deadline (here and in /tickets); who may see it; what it costs."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest

from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import service
from jiesu.tickets.models import Channel, Ticket, UnitRole
from jiesu.tickets.rules import Step, TicketState
from tests import forms
from tests.integration.test_ticket_pages import CHANGPING, DAXING, GUANYINSI, XINGSHOU, World, login
from tests.integration.test_ticket_reads import counted

pytestmark = pytest.mark.integration

CHENGGUAN = "cgzf-110115"  # 大兴区城管执法局: a co-unit
QUEUE_STATEMENTS = 7  # see test_the_queue_costs_a_handful_of_statements


def proposal(category: str | None = "01", unit: str | None = GUANYINSI, unit_name: str = "观音寺街道办事处",
             co: tuple[tuple[str, str], ...] = (), confidence: float = 0.9, manual_reasons: tuple[str, ...] = (),
             duplicates: tuple[dict, ...] = (), ambiguous: bool = False,
             alternatives: tuple[dict, ...] = ()) -> tuple[dict, dict]:
    """A suggestion as smart dispatch keeps it on the ticket (routing.service.Suggestion.to_dict) and its brief."""
    full = {"category_code": category, "category_name": "城乡建设" if category else None,
            "category_confidence": confidence, "category_alternatives": [{"category": "环境保护", "confidence": 0.05}],
            "category_reasons": ["关键词: 群租 消防"],
            "place": {"code": GUANYINSI, "path": "北京市/大兴区/观音寺街道", "confidence": 1.0, "ambiguous": ambiguous,
                      "alternatives": list(alternatives), "reasons": []},
            "main_unit": {"code": unit, "name": unit_name} if unit else None,
            "co_units": [{"code": c, "name": n} for c, n in co], "unit_reasons": ["默认：属地街道（乡镇）办理"],
            "urgency": "normal", "urgency_reasons": [], "duplicates": list(duplicates), "confidence": confidence,
            "manual": bool(manual_reasons), "manual_reasons": list(manual_reasons), "model_version": "test"}
    brief = {"category": category, "unit": unit, "co_units": [c for c, _n in co], "urgency": "normal",
             "confidence": confidence, "manual": bool(manual_reasons),
             "duplicates": [d["number"] for d in duplicates], "model": "test"}
    return full, brief


class Desk(World):
    def new(self, text: str = "首座御园群租房，楼道堆满杂物", suggestion: tuple[dict, dict] | None = None,
            area_code: str | None = GUANYINSI, urgency: Urgency = Urgency.normal) -> str:
        new = service.NewRequest(text=text, request_type=RequestType.complaint, channel=Channel.hotline,
                                 address="首座御园3号楼", area_code=area_code, urgency=urgency)
        return service.create_request(self.session, self.dispatcher, self.clock, self.settings, new,
                                      suggestion=suggestion).ticket.number

    def ticket_of(self, number: str) -> Ticket:
        self.session.expire_all()
        return service.get(self.session, self.dispatcher, number)


@pytest.fixture
def desk(session, clock, settings) -> Desk:
    return Desk(session, clock, settings)


def rows(html: str) -> list[str]:
    """The numbers of the queue's rows, in order."""
    return re.findall(r'<tr id="t-[0-9-]+"(?: class="[^"]*")? data-number="([0-9-]+)"', html)


def row_html(html: str, number: str) -> str:
    start = html.index(f'<tr id="t-{number}"')
    return html[start:html.index("</tr>", start)]


def form_fields(html: str, number: str, step: str, css: str | None = None) -> dict[str, list[str]]:
    """The inputs of the form of `number`'s row posting `step` (the first, or the one of class `css`)."""
    row = row_html(html, number)
    pattern = rf'<form method="post" action="/tickets/{number}/steps/{step}"' + (rf' class="{css}"' if css else "")
    start = row.index(pattern)
    form = row[start:row.index("</form>", start)]
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields.setdefault(name.group(1), []).append(htmllib.unescape(value.group(1)) if value else "")
    return fields


def post_form(client, number: str, step: str, fields: dict, **kw):
    data = {k: v for k, v in fields.items() if k != "csrf_token"}
    data["csrf_token"] = forms.token(client, "/queue")
    return client.post(f"/tickets/{number}/steps/{step}", data=data, **kw)


def test_new_tickets_by_dispatch_deadline_with_their_suggestion(desk, client):
    first = desk.new(suggestion=proposal(co=((CHENGGUAN, "北京市大兴区城市管理综合行政执法局"),)))
    desk.clock.advance(timedelta(minutes=5))
    urgent = desk.new("燃气泄漏，味道很大", suggestion=proposal(
        confidence=0.41, ambiguous=True, manual_reasons=("类别把握不足 (0.41)", "地点不明确"),
        alternatives=({"code": "110114116201", "path": "北京市/昌平区/兴寿镇/某村"},)),
        urgency=Urgency.emergency)  # dispatch within 1 h: before `first`
    desk.clock.advance(timedelta(minutes=5))
    bare = desk.new("车太多了", suggestion=None, area_code=None)
    same_deadline = desk.new("同一时限，后受理", suggestion=proposal())
    desk.act(desk.dispatcher, desk.new("已派单的不在队列里", suggestion=proposal()), Step.dispatch, unit=GUANYINSI)
    login(client, "disp1")
    r = client.get("/queue")
    assert r.status_code == 200
    html = r.text
    assert rows(html) == [urgent, first, bare, same_deadline]  # by dispatch deadline: 11:05, 12:00, 12:10, 12:10
    assert '<a href="/queue">派单</a>' in html  # the nav
    assert re.search(r'data-tab="new"[^>]*>待派单 <small class="count">4</small>', html)
    one = row_html(html, first)
    assert "城乡建设" in one and "<code>01</code>" in one and "观音寺街道办事处" in one
    assert "北京市大兴区城市管理综合行政执法局" in one and '<span class="confidence">90%</span>' in one
    assert "待人工派单" not in one
    assert "2024-09-30 12:00" in one and "剩 1 小时 59 分" not in one  # dispatch by 12:00; 10 min gone
    assert "剩 1 小时 50 分" in one
    sure = row_html(html, urgent)
    assert "待人工派单" in sure and "类别把握不足 (0.41)；地点不明确" in sure and "地名有歧义" in sure
    assert '<span class="confidence">41%</span>' in sure and "紧急" in sure
    # the unit picker offers the street of the place's other reading first
    assert f'list="alt-{urgent}"' in sure
    assert f'<option value="{XINGSHOU}">兴寿镇人民政府（北京市/昌平区/兴寿镇/某村）' in sure
    none = row_html(html, bare)
    assert "没有智能派单建议" in none and 'class="accept"' not in none  # nothing to accept: dispatch by hand
    assert "<details class=\"correct\" open>" in none
    english = client.get("/queue", params={"lang": "en"}).text
    assert "Dispatch queue" in english and "Accept and dispatch" in english and "采纳建议派单" not in english


def test_accepting_a_suggestion_applies_its_category_and_unit(desk, client, session):
    number = desk.new(suggestion=proposal(co=((CHENGGUAN, "北京市大兴区城市管理综合行政执法局"),)))
    assert desk.ticket_of(number).category is None
    login(client, "disp1")
    html = client.get("/queue").text
    fields = form_fields(html, number, "dispatch", "accept")
    assert fields["unit"] == [GUANYINSI] and fields["category"] == ["01"] and fields["co_units"] == [CHENGGUAN]
    r = post_form(client, number, "dispatch", fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/queue?done=dispatch"
    t = desk.ticket_of(number)
    assert t.state == TicketState.dispatched and t.main_unit.code == GUANYINSI
    assert t.category is not None and t.category.code == "01"
    assert {(tu.unit.code, tu.role) for tu in t.units} >= {(CHENGGUAN, UnitRole.co)}
    page = client.get(f"/tickets/{number}").text
    assert "未分类" not in page and t.category.path in page
    after = client.get("/queue?done=dispatch").text
    assert number not in rows(after) and "已办理：派单" in after
    assert post_form(client, number, "dispatch", fields).status_code == 409  # the same form again: nothing


def test_correcting_the_unit_and_category_before_dispatch(desk, client):
    number = desk.new(suggestion=proposal())
    login(client, "disp1")
    html = client.get("/queue").text
    fields = form_fields(html, number, "dispatch")  # the first: accept; the correction form is the second
    row = row_html(html, number)
    assert 'list="units-110115000000"' in row and '<datalist id="units-110115000000">' in html
    assert row.count('data-picker="units"') == 2  # unit and co-unit: the picker that searches every unit by name
    assert '<option value="110115009000">观音寺街道办事处</option>' in html  # the district's streets
    assert '<datalist id="queue-categories">' in html and '<option value="01">城乡建设</option>' in html
    fields = {"unit": XINGSHOU, "co_units": "", "category": "01.01.003",
              "expected_version": fields["expected_version"][0], "next": "/queue"}
    r = post_form(client, number, "dispatch", fields, follow_redirects=False)
    assert r.status_code == 303
    t = desk.ticket_of(number)
    assert t.main_unit.code == XINGSHOU and t.category.code == "01.01.003"
    # a unit that does not exist: refused on the ticket page, with the field, nothing changed
    other = desk.new(suggestion=proposal())
    version = str(desk.ticket_of(other).version)
    r = post_form(client, other, "dispatch", {"unit": "nope", "expected_version": version, "next": "/queue"})
    assert r.status_code == 422 and desk.ticket_of(other).state == TicketState.new


def test_a_return_is_upheld_with_a_new_unit_or_rejected(desk, client):
    upheld = desk.new(suggestion=proposal())
    rejected = desk.new(suggestion=proposal())
    for number in (upheld, rejected):
        desk.act(desk.dispatcher, number, Step.dispatch, unit=GUANYINSI)
        desk.act(desk.gys, number, Step.return_, reason="属兴寿镇辖区，不属于本街道")
    login(client, "disp1")
    html = client.get("/queue", params={"tab": "returned"}).text
    assert rows(html) == [upheld, rejected]
    assert re.search(r'data-tab="returned"[^>]*>退单待审 <small class="count">2</small>', html)
    one = row_html(html, upheld)
    assert "属兴寿镇辖区，不属于本街道" in one and "观音寺街道办事处" in one
    fields = form_fields(html, upheld, "uphold_return")
    assert fields["next"] == ["/queue?tab=returned"]
    r = post_form(client, upheld, "uphold_return", {**fields, "unit": XINGSHOU, "reason": " "})
    assert r.status_code == 422 and desk.ticket_of(upheld).state == TicketState.returned  # a reason is needed
    r = post_form(client, upheld, "uphold_return", {**fields, "unit": XINGSHOU, "reason": "确属兴寿镇"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/queue?tab=returned&done=uphold_return"
    t = desk.ticket_of(upheld)
    assert t.state == TicketState.dispatched and t.main_unit.code == XINGSHOU
    fields = form_fields(html, rejected, "reject_return")
    assert post_form(client, rejected, "reject_return", {**fields, "reason": ""}).status_code == 422
    r = post_form(client, rejected, "reject_return", {**fields, "reason": "首座御园属观音寺街道"},
                  follow_redirects=False)
    assert r.status_code == 303
    t = desk.ticket_of(rejected)
    assert t.state == TicketState.dispatched and t.main_unit.code == GUANYINSI
    assert rows(client.get("/queue", params={"tab": "returned"}).text) == []


def test_an_extension_is_approved_or_refused(desk, client):
    approved = desk.new(suggestion=proposal())
    refused = desk.new(suggestion=proposal())
    for number in (approved, refused):
        desk.act(desk.dispatcher, number, Step.dispatch, unit=GUANYINSI)
        desk.act(desk.gys, number, Step.sign)
        desk.act(desk.gys, number, Step.request_extension, days=3, reason="需协调施工队进场")
    reply_by = desk.ticket_of(approved).reply_by
    login(client, "disp1")
    html = client.get("/queue", params={"tab": "extension"}).text
    assert rows(html) == [approved, refused]
    one = row_html(html, approved)
    assert "3 个工作日" in one and "需协调施工队进场" in one
    r = post_form(client, approved, "approve_extension", form_fields(html, approved, "approve_extension"),
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/queue?tab=extension&done=approve_extension"
    t = desk.ticket_of(approved)
    assert t.extensions == 1 and t.extension_days_requested is None and t.reply_by > reply_by
    fields = form_fields(html, refused, "reject_extension")
    assert post_form(client, refused, "reject_extension", {**fields, "reason": ""}).status_code == 422
    assert post_form(client, refused, "reject_extension", {**fields, "reason": "工期可以压缩"},
                     follow_redirects=False).status_code == 303
    t = desk.ticket_of(refused)
    assert t.extensions == 0 and t.extension_days_requested is None
    assert rows(client.get("/queue", params={"tab": "extension"}).text) == []


def test_a_suggested_duplicate_is_merged_into_its_parent(desk, client):
    parent = desk.new("首座御园3号楼群租", suggestion=proposal())
    desk.act(desk.dispatcher, parent, Step.dispatch, unit=GUANYINSI)
    child = desk.new("首座御园3号楼群租又来了", suggestion=proposal(duplicates=(
        {"number": parent, "score": 0.82, "reasons": ["同一社区", "同一来电号码"]},)))
    single = desk.new("别处的事", suggestion=proposal())
    login(client, "disp1")
    html = client.get("/queue", params={"tab": "duplicates"}).text
    assert rows(html) == [child]
    assert re.search(r'data-tab="duplicates"[^>]*>疑似重复 <small class="count">1</small>', html)
    one = row_html(html, child)
    assert f'<a href="/tickets/{parent}">{parent}</a>' in one and "0.82" in one and "同一社区，同一来电号码" in one
    assert "待签收" in one and "首座御园3号楼群租" in one  # the parent's state and request
    fields = form_fields(html, child, "merge")
    assert fields["parent"] == [parent]
    r = post_form(client, child, "merge", fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/queue?tab=duplicates&done=merge"
    t = desk.ticket_of(child)
    assert t.state == TicketState.merged and t.parent_id == desk.ticket_of(parent).id
    assert rows(client.get("/queue", params={"tab": "duplicates"}).text) == []
    assert rows(client.get("/queue").text) == [single]


def test_the_overdue_filter_counts_the_dispatch_deadline(desk, client):
    calm = desk.new("一般诉求", suggestion=proposal())  # dispatch within 2 h
    late = desk.new("紧急诉求", suggestion=proposal(), urgency=Urgency.emergency)  # within 1 h
    signed_late = desk.new("派了未签", suggestion=proposal())
    desk.act(desk.dispatcher, signed_late, Step.dispatch, unit=GUANYINSI)
    desk.clock.advance(timedelta(minutes=90))
    login(client, "disp1")
    html = client.get("/queue").text
    assert rows(html) == [late, calm]
    assert '<span class="left late">已超期 30 分</span>' in row_html(html, late)
    assert 'class="overdue"' in row_html(html, late) and 'class="overdue"' not in row_html(html, calm)
    html = client.get("/queue", params={"overdue": "1"}).text
    assert rows(html) == [late]
    assert re.search(r'data-tab="new"[^>]*>待派单 <small class="count">1</small>', html)
    # /tickets: the new ticket past its dispatch deadline is overdue too; the dispatched one is not (yet)
    listed = client.get("/tickets", params={"overdue": "1"}).text
    assert re.findall(r'<a href="/tickets/([0-9-]+)">', listed) == [late]
    assert "派单超期" in listed
    assert set(re.findall(r'<a href="/tickets/([0-9-]+)">', client.get("/tickets", params={"overdue": "0"}).text)) \
        == {calm, signed_late}
    # and the API's filter says the same
    token = client.post("/api/v1/auth/login", json={"username": "disp1", "password": "correct-horse-9"}).json()["token"]
    r = client.get("/api/v1/tickets", params={"overdue": "true"}, headers={"Authorization": f"Bearer {token}"})
    assert [t["number"] for t in r.json()["items"]] == [late]


def test_the_district_filter(desk, client):
    daxing = desk.new(suggestion=proposal())
    changping = desk.new("安四路黄线", suggestion=proposal(unit=XINGSHOU, unit_name="兴寿镇人民政府"),
                         area_code=XINGSHOU)
    login(client, "disp1")
    assert rows(client.get("/queue", params={"district": DAXING}).text) == [daxing]
    html = client.get("/queue", params={"district": CHANGPING}).text
    assert rows(html) == [changping]
    assert '<datalist id="units-110114000000">' in html and XINGSHOU in html
    assert set(rows(client.get("/queue", params={"district": "nonsense"}).text)) == {daxing, changping}


def test_only_who_may_dispatch_sees_the_queue(desk, client):
    r = client.get("/queue", params={"tab": "returned"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/queue%3Ftab%3Dreturned"
    login(client, "gys1")
    r = client.get("/queue")
    assert r.status_code == 403 and "只有派单员可以使用派单台" in r.text
    assert 'href="/queue"' not in client.get("/tickets").text  # no nav link for a street handler
    forms.post(client, "/logout")
    login(client, "disp1")
    assert client.get("/queue").status_code == 200
    assert client.get("/queue", params={"tab": "nope", "page": "999"}).status_code == 200


def test_the_queue_costs_a_handful_of_statements(desk, client, session):
    """One statement for the four counts, one for the page's rows (request, category, unit, place and the reason of
    the return or extension joined in), one for the unit pickers' streets, one for the category picker; the login
    and the page's header and district filter besides. The same for 5 rows and for 50."""
    for i in range(8):
        desk.new(f"第{i}号诉求", suggestion=proposal(co=((CHENGGUAN, "城管"),)))
    for i in range(4):
        number = desk.new(f"退单{i}", suggestion=proposal())
        desk.act(desk.dispatcher, number, Step.dispatch, unit=GUANYINSI)
        desk.act(desk.gys, number, Step.return_, reason=f"理由{i}")
    login(client, "disp1")
    costs = {}
    for tab in ("", "returned"):
        client.get("/queue", params={"tab": tab})
        with counted(session) as c:
            r = client.get("/queue", params={"tab": tab})
        assert r.status_code == 200
        costs[tab] = len(c.statements)
        print(f"\nGET /queue?tab={tab}: {costs[tab]} statements")
    for i in range(50):
        desk.new(f"更多{i}", suggestion=proposal(), area_code=XINGSHOU if i % 2 else GUANYINSI)
    with counted(session) as c:
        r = client.get("/queue")
    assert len(rows(r.text)) == 50
    assert len(c.statements) == costs[""] <= QUEUE_STATEMENTS
    assert costs["returned"] <= QUEUE_STATEMENTS
