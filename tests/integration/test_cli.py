"""The `jiesu` command end to end, on a fresh database of each kind, as an administrator would use it."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from typer.testing import CliRunner

from jiesu.cli import app
from jiesu.config import get_settings
from tests.settings_env import jiesu_env

runner = CliRunner()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.db'}"
    server = request.getfixturevalue("pg_server")
    if os.environ.get("JIESU_TEST_DATABASE_URL"):
        pytest.skip("CLI tests need a server they can create databases on")
    if server is None:
        pytest.skip("PostgreSQL half skipped: no server")
    return server.create_database(f"cli_{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def jiesu(database_url, tmp_path_factory):
    env = {"JIESU_DATABASE_URL": database_url, "JIESU_VAR_DIR": str(tmp_path_factory.mktemp("var")),
           "COLUMNS": "200"}

    def run(*args: str, code: int = 0, stdout: bool = False) -> str:
        with jiesu_env(env):
            result = runner.invoke(app, list(args))
        out = result.stdout if stdout else result.output
        assert result.exit_code == code, f"jiesu {' '.join(args)} -> {result.exit_code}\n{out}\n{result.exception!r}"
        assert "Traceback" not in out
        return out

    return run


@pytest.fixture(scope="module")
def seeded(jiesu, trained_var):
    out = jiesu("db", "check", code=1)
    assert "jiesu db upgrade" in out
    out = jiesu("places", "find", "观音寺", code=1)
    assert "not current" in out
    out = jiesu("demo", "seed", "--tickets", "60", "--days", "10", "--model", str(trained_var))  # not trained again
    assert "16 districts, 349 streets/townships, 7535 communities/villages" in out
    assert "dispatcher" in out and "jiesu12345" in out
    assert "demo tickets: 60 tickets" in out
    return jiesu


def test_db_check_after_seed(seeded):
    assert "schema is current (0017)" in seeded("db", "check")


def test_demo_seed_is_idempotent(seeded):
    out = seeded("seed", "demo", "--tickets", "60", "--days", "10")
    assert "units: 8214" in out
    assert "nothing" in out.lower() or "already" in out.lower()  # the simulator does not run twice


def test_places_find_guanyinsi(seeded):
    out = seeded("places", "find", "观音寺", "--json")
    first = json.loads(out)["matches"][0]
    assert (first["code"], first["path"]) == ("110115009000", "北京市/大兴区/观音寺街道")


def test_places_find_balizhuang_lists_both(seeded):
    data = json.loads(seeded("places", "find", "八里庄", "--level", "street", "--json"))
    assert [m["path"] for m in data["matches"]] == ["北京市/朝阳区/八里庄街道", "北京市/海淀区/八里庄街道"]
    table = seeded("places", "find", "八里庄")
    assert "110105015000" in table and "110108005000" in table


def test_places_find_in_one_district(seeded):
    for district in ("海淀区", "海淀", "110108000000"):
        data = json.loads(seeded("places", "find", "八里庄", "--level", "street", "--district", district, "--json"))
        assert [m["code"] for m in data["matches"]] == ["110108005000"] and not data["ambiguous"]
    assert "names no district" in seeded("places", "find", "八里庄", "--district", "火星区", code=2)


def test_places_find_nothing_exits_1(seeded):
    assert "no place matches" in seeded("places", "find", "不存在的地名", code=1)


def test_places_import_bad_folder(seeded, tmp_path):
    out = seeded("places", "import", str(tmp_path / "nope"), code=1)
    assert "is not a folder" in out


def test_add_business_days_national_day(seeded):
    assert seeded("calendar", "add-business-days", "2024-09-30T10:00+08:00", "1").strip() == "2024-10-08T10:00:00+08:00"
    assert seeded("calendar", "add-business-days", "2025-09-30T10:00+08:00", "1").strip() == "2025-10-09T10:00:00+08:00"


def test_2027_holiday_entered_by_an_administrator_moves_deadlines(seeded):
    out = seeded("calendar", "add-business-days", "2026-12-31T10:00+08:00", "1")
    assert "2027 has no holiday data" in out  # said on stderr, beside the answer
    before = seeded("calendar", "add-business-days", "2026-12-31T10:00+08:00", "1", stdout=True).strip()
    assert before == "2027-01-01T10:00:00+08:00"  # 2027 is not in the holiday data: weekdays only
    seeded("calendar", "set", "2027-01-01", "holiday", "--name", "元旦")
    out = seeded("calendar", "add-business-days", "2026-12-31T10:00+08:00", "1")
    assert out.strip() == "2027-01-04T10:00:00+08:00"  # and no warning once 2027 has overrides
    assert "2027-01-01" in seeded("calendar", "show", "2027")
    seeded("calendar", "unset", "2027-01-01")
    after = seeded("calendar", "add-business-days", "2026-12-31T10:00+08:00", "1", stdout=True).strip()
    assert after == before


@pytest.mark.parametrize("days", ["1e9", "nan", "inf", "2601"])
def test_absurd_day_counts_are_refused(seeded, days):
    assert "must be a number from 0 to 2600" in seeded("calendar", "add-business-days", "2024-09-30T10:00+08:00",
                                                       days, code=2)


def test_past_the_end_of_time_is_a_message(seeded):
    assert "no answer" in seeded("calendar", "add-business-days", "9999-12-30T10:00+08:00", "100", code=1)


def test_unknown_calendar_is_refused(seeded):
    out = seeded("calendar", "add-business-days", "2024-09-30T10:00+08:00", "1", "--calendar", "nosuch", code=1)
    assert "no calendar named 'nosuch'" in out
    assert "calendar name is" in seeded("calendar", "set", "2027-01-02", "workday", "--calendar", "' OR 1=1",
                                        code=1)
    assert "no calendar named" in seeded("units", "edit", "110115009000", "--calendar", "nosuch", code=1)


def test_calendar_import_csv(seeded, tmp_path):
    f = tmp_path / "2027.csv"
    f.write_text("date,kind,name\n2027-02-06,休,春节\n2027-02-07,班,春节调休\n", encoding="utf-8")
    assert "2 day(s) set" in seeded("calendar", "import", str(f))
    f.write_text("2027-02-08,maybe\n", encoding="utf-8")
    assert "row 1" in seeded("calendar", "import", str(f), code=1)


def test_bad_instant_is_a_message_not_a_traceback(seeded):
    assert "not an ISO 8601 instant" in seeded("calendar", "add-business-days", "tomorrow", "1", code=2)
    assert "needs a UTC offset" in seeded("calendar", "add-business-days", "2024-09-30T10:00", "1", code=2)


def test_units_list_and_property_company(seeded):
    out = seeded("units", "list", "--kind", "street", "--district", "110115000000", "--limit", "5")
    assert "26 unit(s)" in out
    out = seeded("units", "add-property", "首座御园物业服务中心", "--community", "110115009006",
                 "--complex", "首座御园")
    assert "首座御园" in out
    assert "a street answers for" in seeded("units", "add", "x1", "某单位", "--kind", "street", "--area",
                                            "110115000000", code=1)


def test_users_add_and_token(seeded):
    out = seeded("users", "add", "handler1", "--role", "unit_handler", "--password", "secret-123", code=1)
    assert "unit_code" in out
    seeded("users", "add", "handler1", "--role", "unit_handler", "--unit", "110115009000", "--password", "secret-123")
    assert seeded("users", "token", "handler1").strip().startswith("jsu_")
    assert "handler1" in seeded("users", "list")


def test_taxonomy_policies_and_deadlines(seeded):
    assert "自来水供应" in seeded("taxonomy", "policies")
    out = seeded("taxonomy", "deadlines", "2024-09-30T10:00+08:00")
    assert "reply by    2024-10-15T12:00:00+08:00" in out  # 7 business days from the latest dispatch, 12:00
    assert "category_not_found" not in out
    assert "no category" in seeded("taxonomy", "deadlines", "2024-09-30T10:00+08:00", "--category", "99", code=1)


def test_add_working_hours(seeded):
    # Friday 17:00 + 2 office hours (09:00-12:00, 13:30-18:00): 17:00-18:00, then Monday 09:00-10:00
    assert seeded("calendar", "add-working-hours", "2024-11-29T17:00+08:00", "2").strip() == "2024-12-02T10:00:00+08:00"
    assert "must be a number from 0" in seeded("calendar", "add-working-hours", "2024-11-29T17:00+08:00", "--", "-1",
                                            code=2)


@pytest.mark.parametrize(("env", "code", "message"), [
    ({"JIESU_TIMEZONE": "Mars/Base"}, 2, "bad setting: JIESU_TIMEZONE"),
    ({"JIESU_LANGUAGE": "fr"}, 2, "bad setting: JIESU_LANGUAGE"),
    ({"JIESU_DATABASE_URL": "mysql://x@localhost/db"}, 2, "bad setting: JIESU_DATABASE_URL"),
    ({"JIESU_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, 1, "cannot reach the database"),
])
def test_bad_settings_are_one_line(monkeypatch, capsys, env, code, message):
    from jiesu.cli import main

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sys.argv", ["jiesu", "db", "check"])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as e:
            main()
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert e.value.code == code
    assert message in err and "Traceback" not in err
