"""History import (jiesu.intake.history, `jiesu tickets import`) on SQLite and PostgreSQL: good rows load
with everything they carry, each kind of bad row is rejected with its field and the rest loads, a second run
adds nothing, and the imported callbacks count in the assessment exactly as direct_cells reads them."""

from __future__ import annotations

import csv
import gzip
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from jiesu.assessment import service as assessment
from jiesu.assessment.models import FactKind, RateFact, RateRollup
from jiesu.callback.models import Callback, CallbackChannel, Resolution, Satisfaction
from jiesu.clock import FixedClock
from jiesu.errors import DataSourceError, PermissionDenied
from jiesu.intake.history import importer
from jiesu.intake.history import write as writing
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets import rules
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel, Outcome, Request, Ticket, TicketEvent
from jiesu.tickets.rules import TicketState
from jiesu.tickets.schemas import TicketDetailOut
from jiesu.units.models import Unit

STREET = "110115009000"  # 大兴区观音寺街道 (area and street office share the code)
COMMUNITY = "110115009006"  # 观音寺社区, in that street
DISTRICT = "110115000000"
BRANCH = "cgzf-110115"  # 大兴区城市管理综合行政执法局
CATEGORY = "01.01.003"  # 城乡建设/安全生产/安全隐患
PERIOD = "2023-03"


def bj(text: str) -> datetime:
    """A Beijing wall time as an aware UTC datetime."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def good(number: str, **fields) -> dict:
    row = {"number": number, "created_at": "2023-03-11 08:15:00", "text": "楼下餐馆油烟扰民，晚上十点还在营业",
           "title": "油烟扰民", "street_code": STREET, "unit": STREET, "category": CATEGORY, "state": "closed",
           "dispatched_at": "2023-03-11 09:00:00", "signed_at": "2023-03-11 09:30:00",
           "replied_at": "2023-03-13 17:00:00", "closed_at": "2023-03-15 10:00:00",
           "callback_at": "2023-03-15 10:00:00", "callback_reached": "true", "callback_contacted": "true",
           "callback_resolution": "resolved", "callback_satisfaction": "satisfied"}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


GOOD = [
    good("H-0001"),
    good("H-0002", community_code=COMMUNITY, unit=BRANCH, category="城乡建设/安全生产/安全隐患", urgency="紧急",
         request_type="举报", callback_resolution="部分解决", callback_satisfaction="基本满意",
         callback_contacted="否", callback_comment="还有味道", reply="已责令商户安装油烟净化设备"),
    good("H-0003", street_code=None, place="大兴区观音寺街道", state="已撤回", replied_at=None, closed_at=None,
         callback_at=None, callback_reached=None, callback_contacted=None, callback_resolution=None,
         callback_satisfaction=None),
    good("H-0004", callback_reached="false", callback_contacted=None, callback_resolution=None,
         callback_satisfaction=None, callback_at="2023-03-31 23:30:00"),  # late on the 31st, Beijing time
    good("H-0005", state="handling", replied_at=None, closed_at=None, callback_at=None, callback_reached=None,
         callback_contacted=None, callback_resolution=None, callback_satisfaction=None),
    good("H-0006", created_at="2023-03-10T23:00:00+00:00", callback_at="2023-04-01 00:10:00",
         callback_resolution="unresolved", callback_satisfaction="unsatisfied"),  # April's
]

BAD = [  # (row, the field the rejection names)
    (good(""), "number"),
    (good("H-1001", created_at="2023-02-30 08:00:00"), "created_at"),
    (good("H-1002", closed_at="yesterday"), "closed_at"),
    (good("H-1003", unit="no-such-unit"), "unit"),
    (good("H-1004", category="99.99.999"), "category"),
    (good("H-1005", category="安全隐患"), "category"),  # two categories have that name
    (good("H-1006", state="lost"), "state"),
    (good("H-1007", callback_resolution="maybe"), "callback_resolution"),
    (good("H-1008", callback_satisfaction=None), "callback_satisfaction"),
    (good("H-1009", callback_contacted="perhaps"), "callback_contacted"),
    (good("H-1010", callback_reached="false"), "callback_reached"),  # not reached, yet answers
    (good("H-0001", text="又来电反映"), "number"),  # a duplicate of the first good row
    (good("H-1011", text="   "), "text"),
    (good("H-1012", street_code="110115999000"), "street_code"),
    (good("H-1013", street_code="110105015000", community_code=COMMUNITY), "street_code"),  # not its street
    (good("H-1014", street_code=None, place="八里庄街道"), "place"),  # 朝阳 or 海淀
    (good("H-1015", unit=None, state="handling"), "unit"),
    (good("H-1016", replied_at="2023-03-01 08:00:00"), "replied_at"),  # before it came in
    (good("H-1017", urgency="urgent!"), "urgency"),
    (good("H-1018", created_at="0001-01-01 00:00:00"), "created_at"),
]


def write(rows: list[dict], path: Path, fmt: str) -> Path:
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return path
    columns = [c for c in importer.COLUMNS if any(c in r for r in rows)]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def run(session, settings, source, clock=None, **kw) -> importer.ImportReport:
    clock = clock or FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))
    return importer.import_tickets(session, SYSTEM, clock, settings, source, **kw)


def ticket(session, number: str) -> Ticket:
    return tickets.by_number(session, number)


def ids(session, model, code: str) -> int:
    return session.scalar(select(model.id).where(model.code == code))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def mixed() -> list[dict]:
    """The good and the bad rows interleaved, as a real export would have them."""
    out = []
    for i, (row, _) in enumerate(BAD):
        if i < len(GOOD):
            out.append(GOOD[i])
        out.append(row)
    return out


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_good_rows_load_with_everything_they_carry(session, settings, tmp_path, fmt):
    report = run(session, settings, write(GOOD, tmp_path / f"history.{fmt}", fmt))
    assert (report.read, report.loaded, report.rejected, report.skipped_existing) == (6, 6, 0, 0)
    assert report.callbacks == 4 and report.periods == ["2023-03", "2023-04"]
    assert (report.signs, report.signs_by_policy, report.no_signs) == (6, 6, 0)  # no sign_by column: the policy's
    assert report.rejections == []

    street, branch = ids(session, Unit, STREET), ids(session, Unit, BRANCH)
    category = ids(session, Category, CATEGORY)
    t = ticket(session, "H-0001")
    assert (t.state, t.main_unit_id, t.category_id, t.area_id, t.district_code) == (
        TicketState.closed, street, category, ids(session, Area, STREET), DISTRICT)
    assert (t.created_at, t.dispatched_at, t.signed_at, t.replied_at, t.closed_at) == (
        bj("2023-03-11 08:15:00"), bj("2023-03-11 09:00:00"), bj("2023-03-11 09:30:00"), bj("2023-03-13 17:00:00"),
        bj("2023-03-15 10:00:00"))
    assert t.dispatch_by == t.created_at and t.sign_by is None and t.reply_by is None
    assert (t.version, t.reopened, t.urgency, t.parent_id, t.callback_due) == (1, 0, Urgency.normal, None, False)
    r = t.request
    assert (r.channel, r.outcome, r.request_type, r.idempotency_key, r.created_by, r.created_at) == (
        Channel.import_, Outcome.ticket, RequestType.complaint, "import:H-0001", "import", t.created_at)
    assert (r.text, r.title, r.area_id, r.category_id, r.contact_id) == (
        "楼下餐馆油烟扰民，晚上十点还在营业", "油烟扰民", t.area_id, category, None)

    events = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)))
    assert len(events) == 1
    e = events[0]
    assert (e.seq, e.action, e.from_state, e.to_state, e.actor, e.role) == (
        1, "import", None, TicketState.closed, "import", "admin")
    assert e.at == datetime(2024, 9, 30, 2, 0, tzinfo=UTC)  # when it was imported
    payload = json.loads(e.payload)
    assert payload["number"] == "H-0001" and payload["state"] == "closed"
    assert payload["closed_at"] == "2023-03-15T02:00:00Z"
    assert tickets.replayed_state(t) == t.state
    assert TicketDetailOut.of(t).timeline[0].action_label == "历史导入"  # as the API and the pages show it

    cb = session.scalar(select(Callback).where(Callback.ticket_id == t.id))
    assert (cb.channel, cb.round, cb.attempt, cb.at, cb.unit_id, cb.agent) == (
        CallbackChannel.import_, 0, 1, bj("2023-03-15 10:00:00"), street, "import")
    assert (cb.reached, cb.contacted, cb.resolution, cb.satisfaction) == (
        True, True, Resolution.resolved, Satisfaction.satisfied)
    fact = session.scalar(select(RateFact).where(RateFact.ticket_id == t.id))
    assert (fact.period, fact.kind, fact.unit_id, fact.callback_id, fact.contacted, fact.resolution,
            fact.satisfaction, fact.district_code, fact.category_id) == (
        PERIOD, FactKind.callback, street, cb.id, True, 2, 2, DISTRICT, category)

    t2 = ticket(session, "H-0002")
    assert (t2.area_id, t2.district_code, t2.main_unit_id, t2.urgency, t2.request.request_type) == (
        ids(session, Area, COMMUNITY), DISTRICT, branch, Urgency.emergency, RequestType.report)
    assert json.loads(t2.events[0].payload)["reply"] == "已责令商户安装油烟净化设备"
    cb2 = session.scalar(select(Callback).where(Callback.ticket_id == t2.id))
    assert (cb2.contacted, cb2.resolution, cb2.satisfaction, cb2.comment) == (
        False, Resolution.partly, Satisfaction.basically, "还有味道")

    t3 = ticket(session, "H-0003")  # a place by name; withdrawn; no callback
    assert (t3.state, t3.area_id, t3.district_code) == (TicketState.withdrawn, ids(session, Area, STREET), DISTRICT)
    assert session.scalar(select(func.count()).select_from(Callback).where(Callback.ticket_id == t3.id)) == 0

    t4 = ticket(session, "H-0004")  # not reached: the round's last attempt, an unreachable fact
    cb4 = session.scalar(select(Callback).where(Callback.ticket_id == t4.id))
    assert (cb4.reached, cb4.contacted, cb4.resolution, cb4.attempt) == (False, None, None, settings.callback_attempts)
    fact4 = session.scalar(select(RateFact).where(RateFact.ticket_id == t4.id))
    assert (fact4.kind, fact4.period, fact4.callback_id) == (FactKind.unreachable, PERIOD, None)

    t5 = ticket(session, "H-0005")  # still open in the old system: carries on here
    assert t5.state == TicketState.handling and tickets.replayed_state(t5) == TicketState.handling

    t6 = ticket(session, "H-0006")  # an ISO time with an offset; a callback in April, Beijing time
    assert t6.created_at == datetime(2023, 3, 10, 23, 0, tzinfo=UTC)
    assert session.scalar(select(RateFact.period).where(RateFact.ticket_id == t6.id)) == "2023-04"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_bad_rows_are_rejected_with_their_field_and_the_rest_loads(session, settings, tmp_path, fmt):
    rows = mixed()
    report = run(session, settings, write(rows, tmp_path / f"mixed.{fmt}", fmt), batch=4)
    assert (report.read, report.loaded, report.rejected) == (len(rows), len(GOOD), len(BAD))
    got = {(r.number, r.field) for r in report.rejections}
    assert got == {(row["number"], field) for row, field in BAD}
    assert [r.line for r in report.rejections] == sorted(r.line for r in report.rejections)  # file order
    first_line = 2 if fmt == "csv" else 1  # the CSV header is line 1
    by_line = {r.line: r for r in report.rejections}
    for i, row in enumerate(rows):
        if any(row is bad for bad, _ in BAD):
            assert by_line[first_line + i].number == row["number"]
    dup = next(r for r in report.rejections if r.number == "H-0001")
    assert "earlier in the file" in dup.reason
    assert "朝阳区" in next(r.reason for r in report.rejections if r.field == "place")
    loaded = set(session.scalars(select(Ticket.number).where(Ticket.number.like("H-%"))))
    assert loaded == {r["number"] for r in GOOD}


def test_a_second_run_adds_nothing(session, settings, tmp_path):
    path = write(mixed(), tmp_path / "mixed.csv", "csv")
    first = run(session, settings, path)
    before = {m: count(session, m) for m in (Request, Ticket, TicketEvent, Callback, RateFact)}
    second = run(session, settings, path)
    assert (second.loaded, second.skipped_existing, second.rejected) == (0, first.loaded, first.rejected)
    assert second.periods == []
    assert {m: count(session, m) for m in (Request, Ticket, TicketEvent, Callback, RateFact)} == before


def test_a_number_of_a_ticket_made_in_jiesu_is_refused(session, settings, clock):
    made = tickets.create_request(session, SYSTEM, clock, settings, tickets.NewRequest(
        text="路灯不亮", request_type=RequestType.complaint, channel=Channel.hotline, area_code=STREET)).ticket
    report = run(session, settings, [good(made.number), good("H-0100")])
    assert report.loaded == 1
    [refused] = report.rejections
    assert (refused.number, refused.field) == (made.number, "number") and "made in Jiesu" in refused.reason


def test_imported_callbacks_count_in_the_assessment(session, settings, clock, tmp_path):
    # A kept rollup of March, made before the import, must not hide the imported tickets.
    assessment.rollup(session, settings, clock, PERIOD)
    assert session.get(RateRollup, PERIOD) is not None
    report = run(session, settings, write(GOOD, tmp_path / "history.csv", "csv"))
    assert report.periods == ["2023-03", "2023-04"]
    session.expire_all()
    assert session.get(RateRollup, PERIOD) is None

    def key(cells):
        return sorted((c.unit_id, c.district_code or "", c.category_id or 0, str(c.kind), c.tickets, c.contacted,
                       c.resolved, c.partly, c.satisfied, c.basically) for c in cells)

    for period in report.periods:
        now = clock.now()
        assert key(assessment.fact_cells(session, period, now)) == key(assessment.direct_cells(session, settings,
                                                                                              period, now))
    ranking = assessment.ranking(session, SYSTEM, settings, clock, PERIOD, "street", prefer_rollup=False)
    row = next(r for r in ranking.rows if r.key == STREET)
    # H-0001 resolved+satisfied; H-0004 not reached (H-0002 judges the branch, not the street)
    assert (row.counts.valid, row.counts.contacted, row.counts.resolved, row.counts.satisfied, row.unreachable) == (
        1, 1, 1, 1, 1)
    departments = assessment.ranking(session, SYSTEM, settings, clock, PERIOD, "department", prefer_rollup=False)
    cgzf = next(r for r in departments.rows if r.key.startswith("cgzf"))
    assert (cgzf.counts.valid, cgzf.counts.partly, cgzf.counts.basically, cgzf.counts.contacted) == (1, 1, 1, 0)
    assessment.rollup(session, settings, clock, PERIOD)
    kept = assessment.ranking(session, SYSTEM, settings, clock, PERIOD, "street")
    assert kept.source == "rollup"
    assert [(r.key, r.counts) for r in kept.rows] == [(r.key, r.counts) for r in ranking.rows]


def test_rows_given_as_mappings_with_a_nested_callback_and_json_values(session, settings):
    row = good("H-0200", callback_at=None, callback_reached=None, callback_contacted=None, callback_resolution=None,
               callback_satisfaction=None)
    row["callback"] = {"at": "2023-03-16 09:00:00", "reached": True, "contacted": True, "resolution": "resolved",
                       "satisfaction": "满意"}
    report = run(session, settings, [row, {**good("H-0201"), "colour": "red"}])
    assert report.loaded == 1
    assert [(r.number, r.field) for r in report.rejections] == [("H-0201", "colour")]
    cb = session.scalar(select(Callback).join(Ticket, Ticket.id == Callback.ticket_id)
                        .where(Ticket.number == "H-0200"))
    assert cb.at == bj("2023-03-16 09:00:00") and cb.satisfaction == Satisfaction.satisfied


def test_the_database_may_check_every_reference_itself(session, settings):
    report = run(session, settings, GOOD, batched_references=False)
    assert report.loaded == len(GOOD) and report.reference_checks == "per row"
    assert count(session, Callback) >= 4


def test_dry_run_writes_nothing(session, settings):
    before = count(session, Ticket)
    report = run(session, settings, mixed(), dry_run=True)
    assert (report.loaded, report.rejected) == (len(GOOD), len(BAD))
    assert count(session, Ticket) == before


def test_the_bulk_path_writes_every_column_that_needs_a_value():
    """COPY and executemany bypass the models' defaults: a new NOT NULL column must be added to TABLES too."""
    import jiesu.models  # noqa: F401 - every table
    from jiesu.db import Base

    for table, cols in writing.TABLES:
        written = {name for name, _ in cols}
        for column in Base.metadata.tables[table].columns:
            if not column.nullable and column.server_default is None:
                assert column.name in written, f"the importer does not write {table}.{column.name}"


def test_only_an_administrator_imports(session, settings):
    with pytest.raises(PermissionDenied):
        importer.import_tickets(session, Actor(username="d", role=Role.dispatcher), FixedClock(datetime.now(UTC)),
                                settings, GOOD)


def test_a_file_that_cannot_be_read_is_refused_before_anything_is_written(session, settings, tmp_path):
    (tmp_path / "cols.csv").write_text("number,created_at,text,colour\nX,2023-01-01,t,red\n", encoding="utf-8")
    (tmp_path / "gbk.csv").write_bytes("number,created_at,text\nX,2023-01-01,油烟\n".encode("gbk"))
    (tmp_path / "short.csv").write_text("number,text\nX,t\n", encoding="utf-8")
    for name, words in (("cols.csv", "unknown column(s) colour"), ("gbk.csv", "not UTF-8"),
                        ("short.csv", "missing column(s) created_at"), ("none.csv", "no such file")):
        with pytest.raises(DataSourceError, match=words.replace("(", r"\(").replace(")", r"\)")):
            run(session, settings, tmp_path / name)


def test_gzip_and_a_crash_between_batches(session, settings, tmp_path, monkeypatch):
    path = tmp_path / "history.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=importer.COLUMNS)
        w.writeheader()
        w.writerows(GOOD[:2] + [good(f"H-03{i:02d}") for i in range(6)])
    real, calls = writing.Writer.write, []

    def failing(self, goods):
        calls.append(len(goods))
        if len(calls) == 2:
            raise RuntimeError("the power went out")
        return real(self, goods)

    monkeypatch.setattr(writing.Writer, "write", failing)
    with pytest.raises(RuntimeError, match="power"):
        run(session, settings, path, batch=3, commit=session.commit)
    session.rollback()
    whole = set(session.scalars(select(Ticket.number).where(Ticket.number.like("H-0%"))))
    assert whole == {"H-0001", "H-0002", "H-0300"}  # the first batch, whole
    assert session.scalar(select(func.count()).select_from(TicketEvent).join(Ticket).where(
        Ticket.number.like("H-0%"))) == 3
    monkeypatch.setattr(writing.Writer, "write", real)
    again = run(session, settings, path, batch=3, commit=session.commit)
    assert (again.loaded, again.skipped_existing) == (5, 3)
    for t in session.scalars(tickets.shaped(tickets.DETAIL).where(Ticket.number.like("H-0%"))):
        assert rules.replay((e.from_state, e.to_state) for e in t.events) == t.state


# --- the command -------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cli_database(request, tmp_path_factory):
    """A fresh database with the reference data, for the command (which commits)."""
    from jiesu.db import make_engine
    from tests.conftest import seed_reference_data

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('import-cli') / 'cli.db'}"
    else:
        if os.environ.get("JIESU_TEST_DATABASE_URL"):
            pytest.skip("the command's tests need a server they can create databases on")
        server = request.getfixturevalue("pg_server")
        if server is None:
            pytest.skip("PostgreSQL half skipped: no server")
        url = server.create_database(f"import_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url)
    seed_reference_data(engine)
    engine.dispose()
    return url


def jiesu(url: str, tmp_path: Path, *args: str):
    from jiesu.cli import app
    from tests.settings_env import jiesu_env

    with jiesu_env({"JIESU_DATABASE_URL": url, "JIESU_VAR_DIR": str(tmp_path), "COLUMNS": "200"}):
        result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def test_the_command_reports_bad_rows_and_a_second_run_adds_nothing(cli_database, tmp_path):
    rows = [{**r, "number": "C" + r["number"]} if r["number"] else r for r in mixed()]
    path = write(rows, tmp_path / "history.csv", "csv")
    result = jiesu(cli_database, tmp_path, "tickets", "import", str(path), "--batch", "5")
    assert result.exit_code == 3, result.output
    assert f"loaded {len(GOOD)} ticket(s)" in result.output and f"{len(BAD)} rows rejected" in result.output
    report = tmp_path / "history.rejected.csv"
    with open(report, encoding="utf-8", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert len(lines) == len(BAD) and list(lines[0]) == ["line", "number", "field", "reason"]
    assert {(r["number"], r["field"]) for r in lines} == {
        ("C" + row["number"] if row["number"] else "", field) for row, field in BAD}
    assert all(r["reason"] for r in lines) and [int(r["line"]) for r in lines] == sorted(int(r["line"]) for r in lines)

    again = jiesu(cli_database, tmp_path, "tickets", "import", str(path), "--report", str(tmp_path / "again.csv"))
    assert again.exit_code == 3
    assert "loaded 0 ticket(s)" in again.output and f"{len(GOOD)} imported before" in again.output
    assert len((tmp_path / "again.csv").read_text(encoding="utf-8").splitlines()) == len(BAD) + 1

    clean = write([{**r, "number": "D" + r["number"]} for r in GOOD], tmp_path / "clean.jsonl", "jsonl")
    done = jiesu(cli_database, tmp_path, "tickets", "import", str(clean))
    assert done.exit_code == 0, done.output
    assert "no row rejected" in done.output and "2023-03" in done.output
    assert (f"{len(GOOD)} with their dispatch and sign times for the response rate ({len(GOOD)} sign deadline(s) "
            "from the deadline policy); 0 without") in done.output


def test_the_command_refuses_what_it_cannot_read(cli_database, tmp_path):
    missing = jiesu(cli_database, tmp_path, "tickets", "import", str(tmp_path / "nothing.csv"))
    assert missing.exit_code == 1 and "no such file" in missing.output
    cols = tmp_path / "cols.csv"
    cols.write_text("number,created_at,text,colour\nX,2023-01-01,t,red\n", encoding="utf-8")
    result = jiesu(cli_database, tmp_path, "tickets", "import", str(cols))
    assert result.exit_code == 1 and "unknown column(s) colour" in result.output
    assert not (tmp_path / "cols.rejected.csv").exists()
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("number,created_at,text\nX,2023-01-01,油烟\n".encode("gbk"))
    result = jiesu(cli_database, tmp_path, "tickets", "import", str(gbk))
    assert result.exit_code == 1 and "not UTF-8" in result.output
    odd = tmp_path / "history.xlsx"
    odd.write_bytes(b"PK")
    result = jiesu(cli_database, tmp_path, "tickets", "import", str(odd))
    assert result.exit_code == 1 and "csv or jsonl" in result.output
    result = jiesu(cli_database, tmp_path, "tickets", "import", str(odd), "--format", "xml")
    assert result.exit_code == 2
