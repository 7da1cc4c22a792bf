"""`jiesu assess ...` on SQLite and PostgreSQL, on the city the API test builds through the callback desk: the
ranked table, --json (the API's figures), --csv, --xlsx (and LibreOffice opens it), rollup, rebuild,
supervise, behind; bad input is one line and a non-zero exit, never a traceback.

The commands run through the real `session_scope` (schema check, error translation); only its unit of work
is the test's session, so that they see the test's rolled-back data."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from jiesu import cli
from jiesu import shell as support
from jiesu.assessment import cli as assess_cli
from jiesu.assessment import export
from jiesu.assessment import service as assessment
from jiesu.permissions import SYSTEM
from tests.integration.test_assessment_api import OTHER, STREET, build_city
from tests.integration.test_assessment_api import settings as settings  # noqa: F401  (min sample 2, bottom 1)
from tests.settings_env import jiesu_env

runner = CliRunner()


@pytest.fixture
def jiesu(engine, session, settings, clock, tmp_path, monkeypatch):
    @contextmanager
    def the_tests_session(_sessions):
        yield session
        session.flush()

    monkeypatch.setattr(support, "unit_of_work", the_tests_session)
    monkeypatch.setattr(assess_cli, "clock", lambda: clock)
    env = {"JIESU_DATABASE_URL": engine.url.render_as_string(hide_password=False), "JIESU_VAR_DIR": str(tmp_path),
           "JIESU_ASSESS_MIN_SAMPLE": str(settings.assess_min_sample),
           "JIESU_ASSESS_BOTTOM": str(settings.assess_bottom), "COLUMNS": "250"}

    def run(*args: str, code: int = 0, stdout: bool = False) -> str:
        with jiesu_env(env):
            result = runner.invoke(cli.app, ["assess", *args])
        out = result.stdout if stdout else result.output
        assert result.exit_code == code, f"jiesu assess {' '.join(args)} -> {result.exit_code}\n{out}\n" \
                                         f"{result.exception!r}"
        assert "Traceback" not in out
        return out

    return run


@pytest.fixture
def city(desk, cast, clock) -> dict[str, str]:
    return build_city(desk, cast, clock)


def test_the_ranked_table(jiesu, city):
    out = jiesu("rates", "--month", "2024-09", "--level", "street")
    assert "2024年9月 街乡镇接诉即办考核排名" in out and "考核周期：2024年9月1日至2024年9月30日" in out
    assert out.index("兴丰街道办事处") < out.index("观音寺街道办事处")
    here = next(line for line in out.splitlines() if "观音寺街道办事处" in line)
    # response 4 signed of 5 dispatched; contact 3/3; resolution 2/3; composite 100 x (0.08 + 0.5 x 2/3 + 0.4 x 1.9/3)
    cells = here.split()
    assert "末位" in cells and "80.0%" in cells and "100.0%" in cells and "66.7%" in cells and "66.67" in cells
    assert "考核公式" in out and "响应率 = 签收时限内签收数 / 计入派单量" in out
    assert "联系率 = 承办单位联系市民数 / 有效回访量" in out
    assert "综合得分 = 100 × (0.1 × 响应率 + 0 × 联系率 + 0.5 × 解决率 + 0.4 × 满意率)" in out
    assert "全市未联系上 1 件" in out
    text = " ".join(out.split())
    assert "本表合计: 计入派单量 7（按时签收 6, 超时签收 0, 逾期未签收 1; 暂不计入 0, 退单审核通过 0 不计入）, " \
           "响应率 85.7%; 有效回访量 5, 联系率 100.0%" in text
    assert "全市合计: 计入派单量 8（按时签收 7," in text and "响应率 87.5%; 有效回访量 6, 联系率 83.3%" in text
    department = jiesu("rates", "--month", "2024-09", "--level", "department")
    assert "—" in department  # one valid callback: listed, not ranked


def test_json_is_the_apis_figures(jiesu, city, session, settings, clock):
    out = json.loads(jiesu("rates", "--month", "2024-09", "--json", stdout=True))
    expected = export.to_dict(assessment.ranking(session, SYSTEM, settings, clock, "2024-09", "street"), settings.tz)
    assert out == json.loads(json.dumps(expected))
    assert [r["key"] for r in out["rows"]] == [OTHER, STREET]


def test_csv_and_xlsx_files(jiesu, city, tmp_path):
    xlsx, table = tmp_path / "rates.xlsx", tmp_path / "rates.csv"
    out = jiesu("rates", "--month", "2024-09", "--xlsx", str(xlsx), "--csv", str(table))
    assert f"Excel report written to {xlsx}" in out and f"CSV written to {table}" in out
    rows = list(csv.reader(io.StringIO(table.read_bytes().decode("utf-8-sig"))))
    assert rows[0][:3] == ["排名", "区内排名", "单位"]
    assert [r[2] for r in rows[1:]] == ["兴丰街道办事处", "观音寺街道办事处"]
    here = dict(zip(rows[0], rows[2], strict=True))
    assert (here["计入派单量"], here["按时签收"], here["逾期未签收"], here["响应率"], here["联系率"]) == (
        "5", "4", "1", "80.0%", "100.0%")
    wb = load_workbook(xlsx)
    ws = wb["考核排名"]
    assert ws["A1"].value == "2024年9月 街乡镇接诉即办考核排名"
    counts = wb["回访计数"]
    header = [c.value for c in counts[2]]
    values = dict(zip(header, [c.value for c in counts[4]], strict=True))
    assert values["单位"] == "观音寺街道办事处"
    assert (values["计入派单量"], values["逾期未签收"], values["联系市民"]) == (5, 1, 3)
    bad = jiesu("rates", "--month", "2024-09", "--xlsx", str(tmp_path / "no" / "such" / "dir.xlsx"), code=1)
    assert "cannot write Excel report" in bad


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not on PATH: install libreoffice-calc-nogui "
                                              "to check that the Excel report opens in it")
def test_libreoffice_opens_the_excel_report(jiesu, city, tmp_path, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the file is the same on both databases: converted once")
    xlsx = tmp_path / "rates.xlsx"
    jiesu("rates", "--month", "2024-09", "--xlsx", str(xlsx))
    profile = tmp_path / "lo-profile"  # its own profile: no clash with another LibreOffice running
    done = subprocess.run([soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to",
                           "pdf", "--outdir", str(tmp_path), str(xlsx)], capture_output=True, text=True, timeout=180,
                          env=os.environ | {"HOME": str(tmp_path)})
    pdf = tmp_path / "rates.pdf"
    assert done.returncode == 0, done.stderr
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF"), done.stdout + done.stderr
    assert pdf.stat().st_size > 1000


def test_rollup_and_rebuild(jiesu, city):
    before = json.loads(jiesu("rates", "--month", "2024-09", "--json", stdout=True))
    assert "2024-09: " in jiesu("rollup", "--month", "2024-09")
    assert "cells kept" in jiesu("rollup", "--month", "2024-09")  # again: replaced, not doubled
    kept = json.loads(jiesu("rates", "--month", "2024-09", "--json", stdout=True))
    assert kept["source"] == "rollup" and kept["rows"] == before["rows"]
    assert json.loads(jiesu("rates", "--month", "2024-09", "--live", "--json", stdout=True))["source"] == "facts"
    assert "has not ended yet" in jiesu("rollup", "--month", "2024-10", code=1)
    out = jiesu("rebuild", "--month", "2024-09")
    # 7 callbacks' facts and 8 dispatches' (every ticket sent in September); the kept month is kept again
    assert "2024-09: 15 facts written; rollup kept again" in out and "no figure changed" in out
    rebuilt = json.loads(jiesu("rates", "--month", "2024-09", "--json", stdout=True))
    assert rebuilt["source"] == "rollup" and rebuilt["rows"] == before["rows"]


def test_supervise_and_behind(jiesu, city):
    out = jiesu("supervise", "--month", "2024-09")
    assert city["unsigned"] in out and "观音寺街道办事处" in out and "重办" in out
    data = json.loads(jiesu("supervise", "--month", "2024-09", "--json", stdout=True))
    assert data["counts"]["sign_overdue"] == 1 and data["reopened_units"][0]["code"] == STREET
    out = jiesu("behind", "--month", "2024-09", "--key", STREET, "--measure", "unsatisfied")
    assert city["reopened"] in out and city["ok"] not in out and ": 1 tickets" in out
    data = json.loads(jiesu("behind", "--month", "2024-09", "--key", STREET, "--json", stdout=True))
    assert data["total"] == 3 and {i["number"] for i in data["items"]} == {city["ok"], city["basically"],
                                                                          city["reopened"]}
    # the response rate's: the dispatch signed late or not at all, with its times in Beijing time
    out = jiesu("behind", "--month", "2024-09", "--key", STREET, "--measure", "not_in_time")
    line = next(line for line in out.splitlines() if city["unsigned"] in line)
    assert ": 1 tickets" in out and "派单时间" in out and "签收时限" in out and city["ok"] not in out
    assert "逾期未签收" in line and "2024-09-30 10:00" in line
    data = json.loads(jiesu("behind", "--month", "2024-09", "--key", STREET, "--measure", "not_in_time", "--json",
                            stdout=True))
    [item] = data["items"]
    assert (item["number"], item["kind"], item["dispatched_at"], item["signed_at"]) == (
        city["unsigned"], "sign_missed", "2024-09-30T02:00:00Z", None)


@pytest.mark.parametrize(("args", "code", "message"), [
    (("rates", "--month", "2024-13"), 1, "--month: a month is written YYYY-MM"),
    (("rates", "--month", "0000-01"), 1, "the month's year is"),
    (("rates", "--month", "2024-09", "--level", "city"), 2, "Invalid value for '--level'"),
    (("rates",), 2, "Missing option '--month'"),
    (("behind", "--month", "2024-09", "--key", "nobody"), 1, "no unit nobody"),
    (("behind", "--month", "2024-09", "--measure", "all"), 2, "Invalid value for '--measure'"),
    (("rollup", "--month", "March"), 1, "a month is written YYYY-MM"),
    (("supervise", "--month", "2024-9"), 1, "a month is written YYYY-MM"),
])
def test_bad_input_is_a_message(jiesu, args, code, message):
    out = jiesu(*args, code=code)
    assert message in " ".join(out.split())
