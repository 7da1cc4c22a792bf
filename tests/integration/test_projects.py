"""Topics of the month and projects through the service, the CLI and the API: a project on a place whose tickets fell
has a negative effect against flat comparison places (the number checked by hand); a hot spot becomes 已立项 with
its project; candidates read as category · keyword; adopting a topic twice in a month is refused; the workflow
writes its events; units see their own; bad inputs are 4xx naming the field, and a clear line in the CLI."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select
from typer.testing import CliRunner

from jiesu import cli
from jiesu import shell as support
from jiesu.callback.models import Callback, CallbackChannel, Resolution, Satisfaction
from jiesu.errors import Conflict, InvalidInput, PermissionDenied, TransitionNotAllowed
from jiesu.hotspots import projects, projects_cli
from jiesu.hotspots.models import HotSpot, HotSpotEvent, ProjectEvent
from jiesu.hotspots.rules import HotSpotLabel, HotSpotStatus, ProjectStatus, ProjectStep
from jiesu.permissions import SYSTEM, Role
from jiesu.places.models import Area, AreaLevel
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets.models import Channel, Outcome, Request, Ticket
from jiesu.tickets.rules import TicketState
from jiesu.units import users
from jiesu.units.models import Unit, UnitKind
from tests.integration.test_api import assert_error, bearer, login, make_user
from tests.integration.test_tickets import OTHER_STREET, STREET
from tests.settings_env import jiesu_env

START = date(2024, 3, 10)  # the works month is 2024-03; the clock stands at 30 September 2024
BEFORE = [f"{2023 + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}" for m in range(3, 15)]  # 2023-03 .. 2024-02
AFTER = ["2024-04", "2024-05", "2024-06", "2024-07", "2024-08"]


def local(month: str, day: int) -> datetime:
    y, m = map(int, month.split("-"))
    return datetime(y, m, day, 10, tzinfo=UTC) - timedelta(hours=8)


class Town:
    """Tickets and callbacks inserted in bulk: the service under test reads them, how they were made does not
    matter."""

    def __init__(self, session) -> None:
        self.session, self.n = session, 0
        self.roots = list(session.scalars(select(Category).where(Category.level == 1).order_by(Category.code)))

    def add(self, area: Area, root: int, month: str, count: int, terms: str, unsatisfied: int = 0) -> None:
        if not count:
            return
        rows = [{"text": terms, "title": "", "request_type": RequestType.complaint, "channel": Channel.hotline,
                 "address": "", "area_id": area.id, "urgency": Urgency.normal, "category_id": self.roots[root].id,
                 "outcome": Outcome.ticket, "terms": terms, "created_at": local(month, 1 + i % 27),
                 "created_by": "seed"} for i in range(count)]
        ids = list(self.session.scalars(insert(Request).returning(Request.id, sort_by_parameter_order=True), rows))
        tickets = []
        for rid, r in zip(ids, rows, strict=True):
            self.n += 1
            tickets.append({"number": f"PJ-{self.n:06d}", "request_id": rid, "state": TicketState.closed,
                            "category_id": r["category_id"], "urgency": Urgency.normal, "area_id": area.id,
                            "district_code": area.district_code, "created_at": r["created_at"],
                            "dispatch_by": r["created_at"], "dispatched_at": r["created_at"]})
        tids = list(self.session.scalars(insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True), tickets))
        self.session.execute(insert(Callback), [
            {"ticket_id": tid, "round": 0, "attempt": 1, "at": t["created_at"] + timedelta(days=3), "agent": "cb",
             "channel": CallbackChannel.phone, "reached": True, "contacted": True, "resolution": Resolution.resolved,
             "satisfaction": Satisfaction.unsatisfied if i < unsatisfied else Satisfaction.satisfied, "comment": ""}
            for i, (tid, t) in enumerate(zip(tids, tickets, strict=True))])


@pytest.fixture
def town(session):
    """16 communities of 大兴区 with leaks (first-level category 0) month by month from 2023-03 to 2024-09. The
    project's place, the first one, had 10 a month (half its callers unhappy) until the works in March 2024, then
    2 a month (none unhappy); the others 3 to 5 a month, flat but for ±1 after. Parking (category 1) is a
    complaint all over both streets, every month."""
    t = Town(session)
    areas = list(session.scalars(select(Area).where(Area.level == AreaLevel.community, Area.street_code == STREET)
                                 .order_by(Area.code).limit(10)))
    areas += list(session.scalars(select(Area).where(Area.level == AreaLevel.community,
                                                     Area.street_code == OTHER_STREET).order_by(Area.code).limit(6)))
    place, others = areas[0], areas[1:]
    for m in BEFORE:
        t.add(place, 0, m, 10, "漏水 天花板 滴水", unsatisfied=5)
    t.add(place, 0, "2024-03", 6, "漏水 天花板 滴水", unsatisfied=3)
    for m in [*AFTER, "2024-09"]:
        t.add(place, 0, m, 2, "漏水 天花板 滴水")
    for i, a in enumerate(others):
        level = 3 + i % 3
        for m in BEFORE + ["2024-03"]:
            t.add(a, 0, m, level, "漏水 墙面 滴水", unsatisfied=1)
        for m in [*AFTER, "2024-09"]:
            t.add(a, 0, m, level + (i % 3 - 1), "漏水 墙面 滴水", unsatisfied=1)
    for i, a in enumerate(areas):
        for m in [*BEFORE[-6:], "2024-03", *AFTER, "2024-09"]:
            t.add(a, 1, m, 1 + i % 2, "停车 车位 占用", unsatisfied=int(i % 4 == 0))
    session.flush()
    return {"place": place, "others": others, "roots": t.roots, "town": t}


def hotspot(session, clock, place: Area, root: Category) -> HotSpot:
    spot = HotSpot(area_id=place.id, place_code=place.code, level="community", district_code=place.district_code,
                   street_code=place.street_code, category_id=root.id, status=HotSpotStatus.open,
                   label=HotSpotLabel.persistent, title="漏水 天花板", first_day=date(2023, 3, 1),
                   last_day=date(2024, 2, 29), found_at=clock.now(), last_seen=clock.now(), updated_at=clock.now())
    session.add(spot)
    session.flush()
    return spot


@pytest.fixture
def project(session, clock, settings, town):
    spot = hotspot(session, clock, town["place"], town["roots"][0])
    return projects.create_project(session, SYSTEM, clock, settings, projects.NewProject(
        owner=STREET, title="老旧小区综合整治", hotspot_id=spot.id, plan="屋面防水、管线更换",
        budget="市区两级 1200 万元", started_on=START))


# --- the effect ---------------------------------------------------------------------------------------------

def test_a_place_whose_tickets_fell_gets_a_negative_effect_against_flat_comparisons(session, clock, settings,
                                                                                      town, project):
    r = projects.effect(session, SYSTEM, settings, clock, project.id)
    assert r.start_month == "2024-03" and r.before_months == BEFORE and r.after_months == AFTER
    assert r.months[0] == "2023-03" and r.months[-1] == "2024-08"
    assert r.project_series == [10] * 12 + [6] + [2] * 5
    assert len(r.comparison) == 10  # k nearest of the 15, by their volume before
    assert town["place"].code not in {p.code for p in r.comparison}
    assert all(p.before == 5.0 for p in r.comparison[:5])  # nearest to 10 first: the fives, then the fours
    e = r.effect
    # By hand: the place went from 10 to 2 a month; the comparison places moved by the mean of their changes.
    changes = [p.after - p.before for p in r.comparison]
    assert e.before == 10 and e.after == 2
    assert e.comparison_change == pytest.approx(sum(changes) / len(changes))
    assert e.effect == pytest.approx(-8 - sum(changes) / len(changes))
    assert e.effect < -7 and e.percent == pytest.approx(e.effect / 10)
    assert e.low <= e.effect <= e.high and e.places == 10
    assert r.dissatisfaction is not None and r.dissatisfaction.effect < -0.2  # half unhappy before, none after
    wider = projects.effect(session, SYSTEM, settings, clock, project.id, months=15)
    assert wider.before_months == BEFORE  # no tickets before 2023-03: those months are not months of zero
    assert wider.effect.effect == pytest.approx(e.effect)
    chart = r.chart()
    assert len(chart["months"]) == len(chart["project"]) == len(chart["comparison"]) == 18
    assert chart["start_month"] == "2024-03"


def test_the_effect_as_excel_has_the_series_the_places_and_the_formula(session, clock, settings, town, project):
    r = projects.effect(session, SYSTEM, settings, clock, project.id)
    wb = load_workbook(io.BytesIO(projects.effect_xlsx(r, clock.now(), settings.tz)))
    assert wb.sheetnames == ["效果汇总", "月度序列", "对照地点"]
    summary = {row[0]: row[1] for row in wb["效果汇总"].iter_rows(min_row=2, values_only=True)}
    assert "实施后月均" in summary["公式"]
    assert summary["效果（件/月）"] == pytest.approx(round(r.effect.effect, 2))
    assert f"{r.effect.effect:+.2f}" in summary["计算"]
    series = list(wb["月度序列"].iter_rows(min_row=2, values_only=True))
    assert [s[0] for s in series] == r.months and series[0][1] == "实施前" and series[12][1] == "开工当月"
    assert [s[2] for s in series] == r.project_series
    assert len(wb["月度序列"]._charts) == 1  # the place against the comparison mean, drawn
    assert len(list(wb["对照地点"].iter_rows(min_row=2))) == 10


def test_no_comparison_places_or_no_month_after_is_stated_not_guessed(session, clock, settings, town):
    t: Town = town["town"]
    lonely = town["others"][0]
    t.add(lonely, 5, "2024-01", 4, "噪音 扰民")  # a category nobody else has
    t.add(lonely, 5, "2024-06", 1, "噪音 扰民")
    session.flush()
    spot = hotspot(session, clock, lonely, town["roots"][5])
    p = projects.create_project(session, SYSTEM, clock, settings, projects.NewProject(
        owner=STREET, title="噪音治理", hotspot_id=spot.id, started_on=START))
    r = projects.effect(session, SYSTEM, settings, clock, p.id)
    assert r.effect is None and r.comparison == [] and "没有可比较" in r.note
    q = projects.create_project(session, SYSTEM, clock, settings, projects.NewProject(
        owner=STREET, title="刚开工", hotspot_id=hotspot(session, clock, town["others"][1], town["roots"][0]).id,
        started_on=date(2024, 9, 1)))
    r = projects.effect(session, SYSTEM, settings, clock, q.id)
    assert r.effect is None and r.after_months == [] and "还没有完整的月份" in r.note


# --- projects -----------------------------------------------------------------------------------------------

def test_a_hot_spot_becomes_a_project_and_every_step_is_an_event(session, clock, settings, town, project):
    spot = session.get(HotSpot, project.hotspot_id)
    assert spot.status == HotSpotStatus.project and spot.project_id == project.id
    assert session.scalar(select(HotSpotEvent.to_status).where(HotSpotEvent.entity_id == spot.id)) == "project"
    assert project.status == ProjectStatus.planned and project.area_id == town["place"].id
    with pytest.raises(TransitionNotAllowed) as exc:
        projects.step(session, SYSTEM, clock, project.id, ProjectStep.finish)
    assert exc.value.field == "step"
    projects.step(session, SYSTEM, clock, project.id, "start")
    projects.add_update(session, SYSTEM, clock, project.id, "屋面防水完成", 40)
    projects.milestone(session, SYSTEM, clock, project.id, "屋面防水", date(2024, 5, 1), date(2024, 4, 28))
    with pytest.raises(InvalidInput) as exc:
        projects.step(session, SYSTEM, clock, project.id, ProjectStep.cancel)
    assert exc.value.field == "reason"
    projects.step(session, SYSTEM, clock, project.id, ProjectStep.finish)
    with pytest.raises(TransitionNotAllowed):
        projects.add_update(session, SYSTEM, clock, project.id, "还有", 100)
    view = projects.project_detail(session, SYSTEM, settings, project.id)
    assert [(e.action, e.from_status, e.to_status) for e in view.events] == [
        ("create", None, "planned"), ("start", "planned", "underway"), ("update", None, None),
        ("milestone", None, None), ("finish", "underway", "done")]
    assert view.project.percent == 100 and view.milestones[0].done_on == date(2024, 4, 28)
    assert view.place_ticket_count == 12 * 10 + 6 + 2 * 6  # its place and category since 12 months before
    assert len(view.place_tickets) == 20


def test_a_hot_spot_already_a_project_cannot_take_a_second(session, clock, settings, town, project):
    with pytest.raises(TransitionNotAllowed), session.begin_nested():
        projects.create_project(session, SYSTEM, clock, settings, projects.NewProject(
            owner=STREET, title="again", hotspot_id=project.hotspot_id))
    assert session.scalar(select(ProjectEvent.id).where(ProjectEvent.project_id != project.id)) is None


def test_units_see_their_own_projects_and_report_progress_on_them(session, clock, settings, project):
    own = users.actor_of(make_user(session, clock, "street-handler", Role.unit_handler, STREET))
    other = users.actor_of(make_user(session, clock, "other-handler", Role.unit_handler, OTHER_STREET))
    assert [p.id for p in projects.list_projects(session, own)] == [project.id]
    assert projects.list_projects(session, other) == []
    with pytest.raises(projects.ProjectNotFound):
        projects.project_detail(session, other, settings, project.id)
    projects.add_update(session, own, clock, project.id, "进场施工", 10)
    with pytest.raises(PermissionDenied):
        projects.step(session, own, clock, project.id, ProjectStep.start)


# --- topics -------------------------------------------------------------------------------------------------

def test_candidates_read_as_category_and_keyword_and_a_topic_is_adopted_once_a_month(session, clock, settings, town):
    found = projects.topic_candidates(session, SYSTEM, settings, clock)
    assert found.months[0] == "2023-10" and found.months[-1] == "2024-09"
    titles = [c.title for c in found.items]
    parking = next(c for c in found.items if "停车" in c.keyword.split())
    assert parking.keyword == "停车 占用 车位"  # always together: one theme
    assert parking.title == f"{town['roots'][1].name} · 停车、占用、车位" and parking.streets == 2
    assert parking.months_present == 12 and parking.tickets == 24 * 12
    assert parking.dissatisfaction == pytest.approx(4 * 12 / (24 * 12))
    assert any("漏水" in t for t in titles), titles
    one = projects.topic_candidates(session, SYSTEM, settings, clock, months=1)
    assert one.months == ["2024-09"] and next(c for c in one.items if c.keyword == parking.keyword).tickets == 24
    topic = projects.adopt(session, SYSTEM, clock, settings, month="2024-10", category=parking.category_code,
                           keywords=parking.keyword.split(), lead=_department(session),
                           units=[STREET, OTHER_STREET])
    assert topic.title == parking.title and [u.unit.code for u in topic.units] == [STREET, OTHER_STREET]
    with pytest.raises(Conflict) as exc:
        projects.adopt(session, SYSTEM, clock, settings, month="2024-10", category=parking.category,
                       keywords=" ".join(reversed(parking.keyword.split())), lead=_department(session))
    assert exc.value.field == "month"
    assert projects.topic_candidates(session, SYSTEM, settings, clock).items[titles.index(parking.title)].adopted \
        == ["2024-10"]
    view = projects.topic_detail(session, SYSTEM, settings, clock, topic.id)
    assert view.series.months[0] == "2024-04" and view.series.months[-1] == "2024-10"
    assert view.series.tickets[:6] == [24] * 6 and view.series.dispatched[:6] == [24] * 6
    assert view.series.unsatisfied[:6] == [4] * 6 and view.before_mean == 24


def _department(session) -> str:
    return session.scalar(select(Unit.code).where(Unit.kind == UnitKind.department).order_by(Unit.code).limit(1))


@pytest.mark.parametrize(("fields", "field"), [
    ({"month": "2024-13"}, "month"),
    ({"category": "没有这类"}, "category"),
    ({"lead": STREET}, "lead"),  # a street office is no city department
    ({"lead": "nowhere"}, "lead"),
    ({"units": ["nowhere"]}, "units"),
    ({"keywords": ["x" * 40]}, "keywords"),
])
def test_bad_adoptions_name_the_field(session, clock, settings, town, fields, field):
    base = {"month": "2024-10", "category": town["roots"][1].name, "keywords": ["停车"], "lead": _department(session)}
    with pytest.raises((InvalidInput, projects.NotFound)) as exc:
        projects.adopt(session, SYSTEM, clock, settings, **(base | fields))
    assert exc.value.field == field


# --- the API ------------------------------------------------------------------------------------------------

@pytest.fixture
def supervisor(session, clock, client) -> dict[str, str]:
    make_user(session, clock, "sup1", Role.supervisor)
    return bearer(login(client, "sup1").json()["token"])


def test_the_api_adopts_tracks_and_measures(client, session, clock, supervisor, town, project):
    lead = _department(session)
    r = client.get("/api/v1/topics/candidates", headers=supervisor)
    assert r.status_code == 200, r.text
    key = next(c["key"] for c in r.json()["items"] if "停车" in c["keyword"].split())
    r = client.post("/api/v1/topics", headers=supervisor, json={"month": "2024-10", "candidate": key, "lead": lead})
    assert r.status_code == 201, r.text
    topic = r.json()
    assert topic["status_label"] == "已立题" and topic["keywords"] == ["停车", "占用", "车位"]
    assert_error(client.post("/api/v1/topics", headers=supervisor, json={"month": "2024-10", "candidate": key,
                                                                         "lead": lead}), 409, field="month")
    assert_error(client.post("/api/v1/topics", headers=supervisor, json={"month": "10/2024", "candidate": key,
                                                                         "lead": lead}), 422, field="month")
    assert_error(client.post("/api/v1/topics", headers=supervisor, json={"month": "2024-10", "candidate": "nokey",
                                                                         "lead": lead}), 422, field="candidate")
    r = client.get(f"/api/v1/topics/{topic['id']}", headers=supervisor)
    assert r.status_code == 200 and len(r.json()["series"]["tickets"]) == 7
    assert [t["id"] for t in client.get("/api/v1/topics", headers=supervisor).json()] == [topic["id"]]
    assert_error(client.get("/api/v1/topics/999999", headers=supervisor), 404, field="id")

    r = client.get(f"/api/v1/projects/{project.id}/effect", headers=supervisor)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["effect"]["effect"] < -7 and body["chart"]["project"][:2] == [10, 10]
    assert "效果 =" in body["formula"] and body["effect"]["formula"].startswith("(2.00 − 10.00)")
    r = client.get(f"/api/v1/projects/{project.id}/effect.xlsx", headers=supervisor)
    assert r.status_code == 200 and r.headers["content-type"].startswith(projects.XLSX_MEDIA_TYPE)
    assert_error(client.get(f"/api/v1/projects/{project.id}/effect?k=0", headers=supervisor), 422, field="k")

    r = client.post("/api/v1/projects", headers=supervisor, json={"topic_id": topic["id"], "owner": lead,
                                                                  "title": "停车治理", "started_on": "2024-10-08"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["place"] is None and r.json()["status_label"] == "已立项"
    assert_error(client.post(f"/api/v1/projects/{pid}/steps/finish", headers=supervisor, json={}), 409, field="step")
    assert_error(client.post(f"/api/v1/projects/{pid}/steps/cancel", headers=supervisor, json={}), 422,
                 field="reason")
    assert_error(client.post(f"/api/v1/projects/{pid}/updates", headers=supervisor,
                             json={"text": "x", "percent": 101}), 422, field="percent")
    assert_error(client.post(f"/api/v1/projects/{pid}/milestones", headers=supervisor,
                             json={"title": "x", "due_on": "2024-02-30"}), 422, field="due_on")
    assert_error(client.post(f"/api/v1/projects/{pid}/tickets", headers=supervisor, json={"numbers": ["NOPE"]}),
                 422, field="numbers")
    assert client.post(f"/api/v1/projects/{pid}/tickets", headers=supervisor,
                       json={"numbers": ["PJ-000001", "PJ-000001"]}).json() == {"added": 1}
    r = client.post(f"/api/v1/projects/{pid}/steps/start", headers=supervisor, json={})
    assert r.status_code == 200 and r.json()["status"] == "underway"
    detail = client.get(f"/api/v1/projects/{pid}", headers=supervisor).json()
    assert [t["number"] for t in detail["linked"]] == ["PJ-000001"] and detail["steps"] == ["finish", "cancel"]
    r = client.get(f"/api/v1/projects/{pid}/effect", headers=supervisor).json()
    assert r["effect"] is None and "城市范围" in r["note"]
    for bad, status, field in (({"owner": "nowhere", "title": "t", "topic_id": topic["id"]}, 404, "owner"),
                               ({"owner": lead, "title": " ", "topic_id": topic["id"]}, 422, "title"),
                               ({"owner": lead, "title": "t"}, 422, "hotspot"),
                               ({"owner": lead, "title": "t", "hotspot_id": 999999}, 404, "hotspot"),
                               ({"owner": lead, "title": "t", "topic_id": 999999}, 404, "topic"),
                               ({"owner": lead, "title": "t", "topic_id": topic["id"], "started_on": "20241008"},
                                422, "started_on")):
        assert_error(client.post("/api/v1/projects", headers=supervisor, json=bad), status, field=field)


def test_a_unit_may_not_adopt_and_sees_only_its_own(client, session, clock, project):
    make_user(session, clock, "other-h", Role.unit_handler, OTHER_STREET)
    h = bearer(login(client, "other-h").json()["token"])
    assert_error(client.get("/api/v1/topics/candidates", headers=h), 403)
    assert client.get("/api/v1/projects", headers=h).json() == []
    assert_error(client.get(f"/api/v1/projects/{project.id}", headers=h), 404)


# --- the CLI ------------------------------------------------------------------------------------------------

@pytest.fixture
def jiesu(engine, session, clock, tmp_path, monkeypatch):
    @contextmanager
    def the_tests_session(_sessions):
        yield session
        session.flush()

    monkeypatch.setattr(support, "unit_of_work", the_tests_session)
    monkeypatch.setattr(projects_cli, "clock", lambda: clock)
    env = {"JIESU_DATABASE_URL": engine.url.render_as_string(hide_password=False), "JIESU_VAR_DIR": str(tmp_path),
           "COLUMNS": "200"}

    def run(*args: str, code: int = 0, stdout: bool = False) -> str:
        with jiesu_env(env):
            result = CliRunner().invoke(cli.app, list(args))
        assert result.exit_code == code, f"jiesu {' '.join(args)} -> {result.exit_code}\n{result.output}"
        assert "Traceback" not in result.output
        return result.stdout if stdout else result.output

    return run


def test_the_cli_ranks_adopts_creates_and_measures(jiesu, session, town, project, tmp_path):
    lead = _department(session)
    ranked = json.loads(jiesu("topics", "rank", "--json"))
    key = next(c["key"] for c in ranked["items"] if "停车" in c["keyword"].split())
    assert "· 停车、占用、车位" in jiesu("topics", "rank", "--months", "6")
    assert "adopted for 2024-10" in jiesu("topics", "adopt", "--month", "2024-10", "--candidate", key, "--lead", lead)
    out = jiesu("topics", "adopt", "--month", "2024-10", "--candidate", key, "--lead", lead, code=1)
    assert "already the topic of 2024-10" in out and "(month)" in out
    assert "(lead)" in jiesu("topics", "adopt", "--month", "2024-11", "--candidate", key, "--lead", STREET, code=1)
    topic_id = json.loads(jiesu("topics", "list", "--json"))[0]["id"]
    assert "2024-10 ←" in jiesu("topics", "show", str(topic_id))
    assert "project" in jiesu("projects", "create", "--topic", str(topic_id), "--owner", lead, "--title", "停车治理",
                              "--start", "2024-10-08")
    assert "--start" in jiesu("projects", "create", "--topic", str(topic_id), "--owner", lead, "--title", "x",
                              "--start", "tomorrow", code=2)
    assert "give --hotspot ID or --topic ID" in jiesu("projects", "create", "--owner", lead, "--title", "x", code=2)
    assert "实施中" in jiesu("projects", "step", str(project.id), "start")
    assert "(reason)" in jiesu("projects", "step", str(project.id), "cancel", code=1)
    assert "40%" in jiesu("projects", "update", str(project.id), "--text", "防水完成", "--percent", "40")
    assert "(percent)" in jiesu("projects", "update", str(project.id), "--text", "x", "--percent", "140", code=1)
    assert "due 2024-06-01" in jiesu("projects", "milestone", str(project.id), "--title", "管线", "--due",
                                     "2024-06-01")
    assert "1 ticket(s) linked" in jiesu("projects", "link", str(project.id), "PJ-000002")
    assert "老旧小区综合整治" in jiesu("projects", "list")
    assert "管线" in jiesu("projects", "show", str(project.id))
    xlsx = tmp_path / "effect.xlsx"
    data = json.loads(jiesu("projects", "effect", str(project.id), "--json", "--excel", str(xlsx), stdout=True))
    assert data["effect"]["effect"] < -7 and xlsx.exists()
    assert "件/月" in jiesu("projects", "effect", str(project.id))
    assert "no project 999" in jiesu("projects", "effect", "999", code=1)
