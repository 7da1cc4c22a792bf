"""Administration of the reference data in the browser: categories, deadline policies, the calendar (with a year's
notice imported from a CSV, previewed before it is written), routing rules and knowledge articles through their
review. Each change takes effect where it should (the next ticket's deadlines, business-day arithmetic), each is in
the audit with its before and after, others are refused, and bad input is answered 422 beside its field."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from jiesu.audit import service as audit
from jiesu.calendar import service as calendar
from jiesu.knowledge import service as kb
from jiesu.knowledge.models import Article
from jiesu.knowledge.rules import ArticleStatus
from jiesu.knowledge.rules import Step as ArticleStep
from jiesu.permissions import SYSTEM, Role
from jiesu.routing import service as routing
from jiesu.routing.models import RoutingRule
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel
from jiesu.tickets.rules import Step
from jiesu.units import users
from tests import forms

pytestmark = pytest.mark.integration
PASSWORD = "correct-horse-9"
GUANYINSI = "110115009000"  # 观音寺街道 (大兴区)
POLICE, CHENGGUAN = "ga-110115", "cgzf-110115"


class Cast:
    def __init__(self, session, clock) -> None:
        self.session, self.clock = session, clock
        self.admin = self.user("boss", Role.admin)
        self.dispatcher = self.user("disp1", Role.dispatcher)
        self.police = self.user("police1", Role.unit_handler, POLICE)
        self.chengguan = self.user("cg1", Role.unit_handler, CHENGGUAN)

    def user(self, username: str, role: Role, unit: str | None = None):
        return users.actor_of(users.create(self.session, SYSTEM, self.clock, username=username, password=PASSWORD,
                                           role=role, display_name=username, unit_code=unit))


@pytest.fixture
def cast(session, clock) -> Cast:
    return Cast(session, clock)


def login(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


def post(client, path: str, data: dict, **kw):
    return forms.post(client, path, data, page="/", follow_redirects=False, **kw)


def audited(session, entity: str, key: str | None = None, who: str | None = "boss") -> list[audit.Entry]:
    """The audit's entries of an entity (and key), newest first: by the administrator unless `who` says."""
    session.expire_all()
    return audit.entries(session, SYSTEM, entity=entity, key=key, who=who)[0]


def new_ticket(session, cast, clock, settings) -> str:
    new = tickets.NewRequest(text="首座御园3号楼楼道堆物，存在消防隐患", request_type=RequestType.complaint,
                             channel=Channel.hotline, address="首座御园3号楼", contact_name="张三丰",
                             contact_phone="13812345678")
    number = tickets.create_request(session, cast.dispatcher, clock, settings, new).ticket.number
    tickets.act(session, cast.dispatcher, clock, settings, number, Step.dispatch, tickets.StepInput(unit=GUANYINSI))
    return number


def test_an_admin_changes_a_deadline_policy_and_the_next_ticket_follows_it(cast, client, session, clock, settings):
    before = tickets.get(session, cast.dispatcher, new_ticket(session, cast, clock, settings))
    assert before.dispatch_by - before.created_at == timedelta(hours=2)  # the default: 2 h to dispatch
    login(client, "boss")
    html = client.get("/admin/policies").text
    assert "办理时限" in html and 'id="p-*-normal"' in html and 'aria-current="page"' in html
    form = client.get("/admin/policies", params={"scope": "*", "urgency": "normal"}).text
    assert 'name="reply_within" type="number" value="7"' in form  # the policy, in the form to edit
    r = post(client, "/admin/policies", {"scope": "*", "urgency": "normal", "dispatch_within_hours": "3",
                                         "sign_within_hours": "1", "reply_within": "3", "reply_unit": "business_days",
                                         "note": "试行：3个工作日"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/policies?done=saved%3A%2A%3Anormal"
    assert "试行：3个工作日" in client.get(r.headers["location"]).text
    t = tickets.get(session, cast.dispatcher, new_ticket(session, cast, clock, settings))
    assert t.dispatch_by - t.created_at == timedelta(hours=3)
    # dispatched Monday 30 September 10:00: 3 business days skip the National Day holiday (1-7 October)
    assert t.reply_by.astimezone(settings.tz) == datetime(2024, 10, 10, 10, 0, tzinfo=settings.tz)
    [entry] = audited(session, "policy", "*:normal")
    assert (entry.actor, entry.role, entry.action) == ("boss", "admin", "set")
    assert ("reply_within", 7.0, 3.0) in entry.changes and ("dispatch_within_hours", 2.0, 3.0) in entry.changes


def test_a_policy_for_one_category(cast, client, session):
    login(client, "boss")
    r = post(client, "/admin/policies", {"scope": "01", "urgency": "emergency", "dispatch_within_hours": "0.5",
                                         "sign_within_hours": "0.25", "reply_within": "1", "reply_unit": "hours"})
    assert r.status_code == 303
    policy = taxonomy.resolve_policy(session, SYSTEM, "01.01", Urgency.emergency)
    assert (policy.scope, policy.reply_within) == ("01", 1.0)
    [entry] = audited(session, "policy", "01:emergency")
    assert entry.action == "create" and ("reply_unit", None, "hours") in entry.changes


def test_bad_policy_input_is_answered_beside_its_field_with_the_form_kept(cast, client, session):
    login(client, "boss")
    data = {"scope": "*", "urgency": "normal", "dispatch_within_hours": "abc", "sign_within_hours": "1",
            "reply_within": "7", "reply_unit": "business_days", "note": "保留我"}
    r = post(client, "/admin/policies", data)
    assert r.status_code == 422
    assert 'id="e-dispatch_within_hours"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="abc"' in r.text and 'value="保留我"' in r.text
    r = post(client, "/admin/policies", {**data, "dispatch_within_hours": "0"})
    assert r.status_code == 422 and 'id="e-dispatch_within_hours"' in r.text
    r = post(client, "/admin/policies", {**data, "dispatch_within_hours": "1", "scope": "99.99"})
    assert r.status_code == 422 and 'id="e-scope"' in r.text
    r = post(client, "/admin/policies", {**data, "dispatch_within_hours": "1", "reply_unit": "weeks"})
    assert r.status_code == 422 and 'id="e-reply_unit"' in r.text
    assert audited(session, "policy") == []


def test_an_admin_adds_a_holiday_and_business_days_follow_it(cast, client, session, settings):
    cal = calendar.load_calendar(session, settings)
    start = datetime(2024, 10, 8, 10, 0, tzinfo=settings.tz)  # Tuesday, the first workday after National Day
    assert cal.add_business_days(start, 1).date() == date(2024, 10, 9)
    login(client, "boss")
    r = post(client, "/admin/calendar/days", {"day": "2024-10-09", "kind": "holiday", "name": "防汛放假"})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/calendar?year=2024")
    html = client.get("/admin/calendar", params={"year": "2024"}).text
    assert 'id="d-2024-10-09"' in html and "防汛放假" in html
    assert 'title="2024-10-09 防汛放假"' in html  # the year view marks it
    cal = calendar.load_calendar(session, settings)
    assert cal.add_business_days(start, 1).date() == date(2024, 10, 10)
    [entry] = audited(session, "calendar", "2024-10-09")
    assert entry.action == "set" and ("kind", None, "holiday") in entry.changes
    r = post(client, "/admin/calendar/days/2024-10-09/remove", {})
    assert r.status_code == 303
    assert calendar.load_calendar(session, settings).add_business_days(start, 1).date() == date(2024, 10, 9)
    removed = audited(session, "calendar", "2024-10-09")[0]
    assert removed.action == "clear" and ("kind", "holiday", None) in removed.changes
    assert post(client, "/admin/calendar/days/2024-10-09/remove", {}).status_code == 404  # nothing left
    r = post(client, "/admin/calendar/days", {"day": "2024-13-01", "kind": "holiday", "name": "坏日期"})
    assert r.status_code == 422 and 'id="e-day"' in r.text and 'value="坏日期"' in r.text
    r = post(client, "/admin/calendar/days", {"day": "2024-10-10", "kind": "vacation"})
    assert r.status_code == 422 and 'id="e-kind"' in r.text


NOTICE_2027 = """date,kind,name
2027-01-01,holiday,元旦
2027-02-06,holiday,春节
2027-02-07,holiday,春节
2027-02-14,workday,春节调休
"""


def test_a_years_notice_is_imported_from_a_csv_after_a_preview(cast, client, session, settings):
    calendar.set_day(session, SYSTEM, cast.clock, date(2027, 1, 1), calendar.DayKind.holiday, "元旦")
    login(client, "boss")
    token = forms.token(client, "/admin/calendar")
    r = client.post("/admin/calendar/import", data={"csv_token": "", "csrf_token": token},
                    files={"file": ("2027.csv", NOTICE_2027.encode("utf-8-sig"), "text/csv")})
    assert r.status_code == 200
    assert "导入预览" in r.text and "2027-02-14" in r.text and "确认导入 3 天" in r.text  # 1 January is set already
    assert re.search(r'<tr class="unchanged">\s*<td>2027-01-01', r.text)
    assert len(calendar.list_days(session, SYSTEM, 2027)) == 1  # nothing written yet
    csv_text = re.search(r'name="csv" value="([^"]*)"', r.text).group(1)
    r = client.post("/admin/calendar/import/confirm", data={"csv": csv_text.replace("&#34;", '"'), "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303 and "done=imported%3A3" in r.headers["location"]
    session.expire_all()
    days = {d.day: (d.kind.value, d.name) for d in calendar.list_days(session, SYSTEM, 2027)}
    assert days[date(2027, 2, 14)] == ("workday", "春节调休") and len(days) == 4
    cal = calendar.load_calendar(session, settings)
    assert cal.is_workday(date(2027, 2, 14)) and not cal.is_workday(date(2027, 2, 8 - 1))
    keys = {e.key for e in audited(session, "calendar")}
    assert {"2027-02-06", "2027-02-07", "2027-02-14"} <= keys
    # a bad file: refused beside the file field, naming its row; nothing written
    r = client.post("/admin/calendar/import", data={"csrf_token": token},
                    files={"file": ("bad.csv", b"2028-01-01,holiday\n2028-13-01,holiday\n", "text/csv")})
    assert r.status_code == 422 and 'id="e-file"' in r.text and "row 2" in r.text
    r = client.post("/admin/calendar/import", data={"csrf_token": token},
                    files={"file": ("big.csv", b"2028-01-01,holiday\n" * 5000, "text/csv")})
    assert r.status_code == 422 and 'id="e-file"' in r.text
    r = client.post("/admin/calendar/import", data={"csrf_token": token},
                    files={"file": ("gbk.csv", "2028-01-01,holiday,元旦\n".encode("gbk"), "text/csv")})
    assert r.status_code == 422 and 'id="e-file"' in r.text
    assert calendar.list_days(session, SYSTEM, 2028) == []


def test_an_admin_adds_edits_and_deletes_a_routing_rule(cast, client, session):
    login(client, "boss")
    r = post(client, "/admin/rules", {"category_scope": "01.01", "area_code": "110115000000", "main": POLICE,
                                      "co_units": "@street, @community", "note": "试点", "active": "1"})
    assert r.status_code == 303, r.text
    rule = session.scalar(select(RoutingRule).where(RoutingRule.category_scope == "01.01"))
    assert (rule.main, rule.co_units, rule.active) == (POLICE, '["@street", "@community"]', True)
    html = client.get("/admin/rules").text
    assert f'id="r-{rule.id}"' in html and "试点" in html
    [created] = audited(session, "rule", "01.01@110115000000")
    assert created.action == "create" and ("main", None, POLICE) in created.changes
    edit = client.get("/admin/rules", params={"edit": str(rule.id)}).text
    assert f"编辑规则 #{rule.id}" in edit and 'name="category_scope" value="01.01"' in edit
    r = post(client, "/admin/rules", {"category_scope": "01.01", "area_code": "110115000000", "main": CHENGGUAN,
                                      "co_units": "@street", "note": "试点", "active": ""})  # disabled
    assert r.status_code == 303
    session.expire_all()
    assert session.get(RoutingRule, rule.id).active is False
    changed = audited(session, "rule", "01.01@110115000000")[0]
    assert ("active", True, False) in changed.changes and ("main", POLICE, CHENGGUAN) in changed.changes
    r = post(client, "/admin/rules", {"category_scope": "01.01", "main": "no-such-unit"})
    assert r.status_code == 422 and 'id="e-main"' in r.text and 'value="no-such-unit"' in r.text
    r = post(client, "/admin/rules", {"category_scope": "99", "main": POLICE})
    assert r.status_code == 422 and 'id="e-category_scope"' in r.text
    rule_id = rule.id
    assert post(client, f"/admin/rules/{rule_id}/delete", {}).status_code == 303
    session.expire_all()
    assert session.get(RoutingRule, rule_id) is None
    assert audited(session, "rule", "01.01@110115000000")[0].action == "delete"
    assert post(client, f"/admin/rules/{rule_id}/delete", {}).status_code == 404
    assert client.get("/admin/rules", params={"edit": "999999"}).status_code == 404


def test_an_admin_adds_renames_and_deactivates_a_category(cast, client, session):
    login(client, "boss")
    r = post(client, "/admin/categories", {"parent_code": "01", "name": "共享单车停放"})
    assert r.status_code == 303
    code = re.search(r"added%3A([0-9.]+)", r.headers["location"]).group(1)
    node = taxonomy.category_by_code(session, code)
    assert node.level == 2 and node.path.endswith("/共享单车停放")
    assert f'id="c-{code}"' in client.get("/admin/categories", params={"q": "共享单车"}).text
    r = post(client, f"/admin/categories/{code}", {"name": "共享单车", "active": "1"})
    assert r.status_code == 303
    r = post(client, f"/admin/categories/{code}", {"name": "共享单车", "active": ""})
    assert r.status_code == 303
    session.expire_all()
    assert session.scalar(select(Category.active).where(Category.code == code)) is False
    assert code not in {c.code for c in taxonomy.list_categories(session, SYSTEM)}  # not offered any more
    actions = [e.action for e in audited(session, "category", code)]
    assert actions == ["deactivate", "rename", "create"]
    r = post(client, "/admin/categories", {"parent_code": "01", "name": ""})
    assert r.status_code == 422 and 'id="e-name"' in r.text
    r = post(client, "/admin/categories", {"parent_code": "77", "name": "新类"})
    assert r.status_code == 422 and 'id="e-parent_code"' in r.text and 'value="新类"' in r.text
    r = post(client, "/admin/categories/01", {"name": session.get(Category, 1).name, "active": ""})
    assert r.status_code == 422 and 'id="e-active"' in r.text  # its children are active
    assert client.get("/admin/categories/99.99").status_code == 404


def test_an_article_goes_through_review_with_who_did_what(cast, client, session):
    login(client, "police1")  # a department writes for its own unit
    r = post(client, "/admin/articles", {"question": "身份证丢了怎么补办？", "answer": "携带户口簿到派出所办理。",
                                         "public": "1"})
    assert r.status_code == 303
    article_id = int(re.search(r"/admin/articles/(\d+)", r.headers["location"]).group(1))
    html = client.get(f"/admin/articles/{article_id}").text
    assert "草稿" in html and "提交审核" in html and "审核发布" not in html  # a department does not publish
    assert post(client, f"/admin/articles/{article_id}/steps/approve", {}).status_code == 403
    assert post(client, f"/admin/articles/{article_id}/steps/submit", {}).status_code == 303
    forms.post(client, "/logout", page="/")

    login(client, "cg1")  # another unit: not its article
    assert client.get(f"/admin/articles/{article_id}").status_code == 404
    assert post(client, f"/admin/articles/{article_id}/steps/expire", {}).status_code == 404
    assert f"/admin/articles/{article_id}\"" not in client.get("/admin/articles").text
    forms.post(client, "/logout", page="/")

    login(client, "boss")
    html = client.get("/admin/articles", params={"status": "in_review"}).text
    assert f'id="a-{article_id}"' in html
    r = post(client, f"/admin/articles/{article_id}/steps/reject", {"note": ""})
    assert r.status_code == 422 and "请说明退回理由" in r.text
    assert post(client, f"/admin/articles/{article_id}/steps/reject", {"note": "写明时限"}).status_code == 303
    article = session.get(Article, article_id)
    kb.edit(session, cast.police, cast.clock, article_id,
            kb.ArticleInput("身份证丢了怎么补办？", "携带户口簿到派出所办理，20个工作日内办结。"))
    kb.act(session, cast.police, cast.clock, article_id, ArticleStep.submit)
    session.commit()  # the department's steps, before the administrator's request
    r = post(client, f"/admin/articles/{article_id}/steps/approve", {})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Article, article_id).status == ArticleStatus.published
    html = client.get(f"/admin/articles/{article_id}").text
    history = html[html.index("操作记录"):]
    steps = re.findall(r'class="action action-(\w+)"', history)
    assert steps == ["create", "submit", "reject", "edit", "submit", "approve"]
    assert "police1" in history and "boss" in history and "写明时限" in history
    assert [e.action for e in audited(session, "article", str(article_id), who=None)] == list(reversed(steps))
    assert post(client, f"/admin/articles/{article_id}/steps/expire", {}).status_code == 303
    assert session.get(Article, article.id).status == ArticleStatus.expired
    # the article's own page refuses a step that is not open to it, and an unknown one
    assert post(client, f"/admin/articles/{article_id}/steps/approve", {}).status_code == 409
    assert post(client, f"/admin/articles/{article_id}/steps/fly", {}).status_code == 404


def test_an_admin_writes_and_publishes_an_article(cast, client, session):
    login(client, "boss")
    r = post(client, "/admin/articles", {"question": "", "answer": "答", "unit_code": POLICE, "public": "1"})
    assert r.status_code == 422 and 'id="e-question"' in r.text and "答</textarea>" in r.text
    r = post(client, "/admin/articles", {"question": "问", "answer": "答", "valid_from": "2025-01-01",
                                         "valid_to": "2024-01-01"})
    assert r.status_code == 422 and 'id="e-valid_to"' in r.text
    r = post(client, "/admin/articles", {"question": "问", "answer": "答", "valid_from": "tomorrow"})
    assert r.status_code == 422 and 'id="e-valid_from"' in r.text
    r = post(client, "/admin/articles", {"question": "居住证怎么办理？", "answer": "到社区服务站登记。",
                                         "unit_code": POLICE, "public": "1"})
    article_id = int(re.search(r"/admin/articles/(\d+)", r.headers["location"]).group(1))
    version = session.get(Article, article_id).version
    r = post(client, f"/admin/articles/{article_id}", {
        "question": "居住证怎么办理？", "answer": "到社区服务站登记，当场办结。", "unit_code": POLICE, "public": "1",
        "expected_version": str(version)})
    assert r.status_code == 303
    r = post(client, f"/admin/articles/{article_id}", {"question": "x", "answer": "y",
                                                       "expected_version": str(version)})
    assert r.status_code == 409  # edited meanwhile
    for step in ("submit", "approve"):
        assert post(client, f"/admin/articles/{article_id}/steps/{step}", {}).status_code == 303
    assert [e.action for e in audited(session, "article", str(article_id))] == ["approve", "submit", "edit", "create"]


PAGES = ["/admin/categories", "/admin/categories/01", "/admin/policies", "/admin/calendar", "/admin/rules",
         "/admin/articles", "/admin/articles/new"]
POSTS = [("/admin/categories", {"name": "x"}), ("/admin/categories/01", {"name": "x"}),
         ("/admin/policies", {"scope": "*", "urgency": "normal", "dispatch_within_hours": "1",
                              "sign_within_hours": "1", "reply_within": "1", "reply_unit": "hours"}),
         ("/admin/calendar/days", {"day": "2027-01-01", "kind": "holiday"}),
         ("/admin/calendar/import/confirm", {"csv": "2027-01-01,holiday"}),
         ("/admin/calendar/import/confirm", {"csv": "not,a,notice"}),
         ("/admin/rules", {"category_scope": "*", "main": "@street"}), ("/admin/rules/1/delete", {}),
         ("/admin/articles", {"question": "q", "answer": "a"})]


def test_others_are_refused_on_every_page_and_form(cast, client, session):
    for path in PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/admin/"), path
    login(client, "disp1")
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    for path, data in POSTS:
        assert post(client, path, data).status_code == 403, path
    token = forms.token(client, "/")
    r = client.post("/admin/calendar/import", data={"csrf_token": token},
                    files={"file": ("n.csv", b"2027-01-01,holiday\n", "text/csv")})
    assert r.status_code == 403
    forms.post(client, "/logout", page="/")
    login(client, "police1")  # a unit handler keeps its own articles, nothing else
    for path in PAGES[:-2]:
        assert client.get(path).status_code == 403, path
    assert client.get("/admin/articles").status_code == 200
    for path, data in POSTS[:-1]:
        assert post(client, path, data).status_code == 403, path
    session.expire_all()
    for who in ("disp1", "police1"):
        assert all(audited(session, entity, who=who) == [] for entity in ("category", "policy", "calendar", "rule"))
    assert routing.list_rules(session, SYSTEM)  # the seeded rules are still there


def test_forms_without_the_csrf_token_are_refused(cast, client):
    login(client, "boss")
    r = client.post("/admin/policies", data={"scope": "*", "urgency": "normal"})
    assert r.status_code == 403


def test_the_pages_in_english(cast, client):
    login(client, "boss")
    html = client.get("/admin/policies", params={"lang": "en"}).text
    assert "<h1>Deadlines</h1>" in html and "Save policy" in html
    assert "Working calendar" in client.get("/admin/calendar", params={"year": "2024"}).text
    assert "Routing rules" in client.get("/admin/rules").text
    assert "Knowledge base" in client.get("/admin/articles").text
