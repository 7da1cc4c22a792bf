"""Free text to district -> street -> community on the real gazetteer, through the service, the CLI
and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from jiesu.cli import app as cli_app
from jiesu.errors import InvalidInput
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Role
from jiesu.places import addresses, resolve, service
from tests.settings_env import jiesu_env

CHANGPING_POINT = (116.235906, 40.218085)  # 昌平区's centre in GCJ-02, as shipped in districts.geojson
YANQING_POINT = (115.985006, 40.465325)
XIANGTUN = {"110114116203": "北京市/昌平区/兴寿镇/香屯村", "110119200225": "北京市/延庆区/大庄科乡/香屯村"}


@pytest.mark.parametrize("text, street, community", [
    ("大兴区首座御园二里5号楼", "110115009000", "110115009016"),
    ("昌平区兴寿镇香屯村安四路", "110114116000", "110114116203"),
    ("广外南里社区", "110101013000", "110101013006"),
    ("东城区广外南里", "110101013000", "110101013006"),
    ("大兴区首座御园二里3号楼2单元，楼下群租", "110115009000", "110115009016"),
])
def test_story_addresses(session, text, street, community):
    r = service.resolve(session, ANONYMOUS, text)
    assert (r.street_code, r.community_code, r.ambiguous) == (street, community, False), r
    assert r.level == "community" and r.alternatives == []
    assert 0.6 < r.confidence <= 1
    assert any(x.used and x.code == community for x in r.reasons)


def test_xiangtun_alone_is_ambiguous_with_both(session):
    r = service.resolve(session, ANONYMOUS, "香屯村")
    assert r.ambiguous and r.best is None and r.street_code is None
    assert {a.code: a.path for a in r.alternatives} == XIANGTUN
    assert {a.street_code for a in r.alternatives} == {"110114116000", "110119200000"}
    assert r.confidence < 0.5
    assert {x.code for x in r.reasons} == set(XIANGTUN)


def test_a_district_settles_the_ambiguity(session):
    r = service.resolve(session, ANONYMOUS, "延庆区香屯村")
    assert not r.ambiguous and r.community_code == "110119200225" and r.street_code == "110119200000"
    r = service.resolve(session, ANONYMOUS, "海淀区八里庄")
    assert not r.ambiguous and r.district_code == "110108000000" and r.street_code == "110108005000"


def test_coordinates_settle_the_ambiguity(session):
    assert service.locate(session, ANONYMOUS, *YANQING_POINT).code == "110119000000"
    r = service.resolve(session, ANONYMOUS, "香屯村安四路", *YANQING_POINT)
    assert not r.ambiguous and r.community_code == "110119200225" and r.located_district_code == "110119000000"
    r = service.resolve(session, ANONYMOUS, "香屯村", *CHANGPING_POINT)
    assert r.community_code == "110114116203"
    only_point = service.resolve(session, ANONYMOUS, "路灯不亮", *CHANGPING_POINT)
    assert (only_point.level, only_point.district_code, only_point.street_code) == ("district", "110114000000", None)


def test_unknown_text_resolves_to_nothing(session):
    r = service.resolve(session, ANONYMOUS, "火星基地")
    assert (r.best, r.ambiguous, r.confidence, r.alternatives) == (None, False, 0.0, [])


def test_a_complex_and_a_new_alias_are_found_after_they_are_added(session):
    before = service.resolve(session, ANONYMOUS, "首座御园7号楼")
    assert before.community_code is None
    service.add_complex(session, SYSTEM, "110115009016", "首座御园")
    r = service.resolve(session, ANONYMOUS, "首座御园7号楼")
    assert (r.level, r.community_code, r.street_code) == ("complex", "110115009016", "110115009000")
    assert r.best.complex_name == "首座御园"
    service.add_alias(session, SYSTEM, "110114116203", "香屯老村")
    assert service.resolve(session, ANONYMOUS, "香屯老村").community_code == "110114116203"


def test_bad_input_names_the_field(session):
    for kwargs, field in [({"text": " "}, "text"), ({"text": "x" * 1001}, "text"),
                          ({"text": "香屯村", "lng": 116.0}, "lat"),
                          ({"text": "香屯村", "lng": 200.0, "lat": 40.0}, "lng")]:
        with pytest.raises(InvalidInput) as e:
            service.resolve(session, ANONYMOUS, **kwargs)
        assert e.value.field == field


def test_reading_places_needs_only_the_read_permission(session):
    # places.read is public (as find and locate): every role and the anonymous caller may resolve
    for actor in (ANONYMOUS, Actor("op", Role.operator), Actor("d", Role.dispatcher)):
        assert service.resolve(session, actor, "香屯村").ambiguous


def test_the_cache_follows_the_database(session):
    first = resolve.resolver_for(session)
    assert resolve.resolver_for(session) is first
    resolve.reset()
    assert resolve.resolver_for(session) is not first


def test_the_generated_test_set_resolves(session):
    report = addresses.evaluate(session)
    figures = "\n".join(addresses.place_report(session))
    assert report.unambiguous > 1000 and report.ambiguous > 20, figures
    assert report.right_street_rate >= 0.95, figures
    assert report.flagged_rate >= 0.95, figures
    assert report.wrong_guesses <= report.items * 0.01, figures
    assert all(s.items for s in report.per_form.values()), figures


def test_the_test_set_is_deterministic(session):
    a = addresses.generate(session, per_form=20)
    assert a == addresses.generate(session, per_form=20)
    g = addresses.Gazetteer(session)  # ambiguity comes from the gazetteer's names, not from the resolver
    assert g.ambiguous("香屯村", None, None) and g.ambiguous("香屯", None, None)
    assert not g.ambiguous("香屯村", "110114000000", None)
    assert not g.ambiguous("观音寺", "110115000000", None)  # the street and its 观音寺社区: one street
    assert {c.form for c in a} == set(addresses.FORMS)


# --- the HTTP endpoint ------------------------------------------------------------------------------


def test_api_resolves(client):
    body = client.get("/api/v1/places/resolve", params={"text": "大兴区首座御园二里5号楼"}).json()
    assert (body["district_code"], body["street_code"], body["community_code"]) == (
        "110115000000", "110115009000", "110115009016")
    assert body["ambiguous"] is False and body["best"]["path"] == "北京市/大兴区/观音寺街道/首座御园二里社区"
    body = client.get("/api/v1/places/resolve", params={"text": "香屯村"}).json()
    assert body["ambiguous"] is True and {a["code"] for a in body["alternatives"]} == set(XIANGTUN)
    body = client.get("/api/v1/places/resolve", params={"text": "香屯村", "lng": YANQING_POINT[0],
                                                         "lat": YANQING_POINT[1]}).json()
    assert body["community_code"] == "110119200225"


@pytest.mark.parametrize("params, field", [({}, "text"), ({"text": ""}, "text"), ({"text": "x" * 1001}, "text"),
                                           ({"text": "香屯村", "lng": "east"}, "lng"),
                                           ({"text": "香屯村", "lng": 116.2}, "lat")])
def test_api_bad_input_is_422_with_the_field(client, params, field):
    r = client.get("/api/v1/places/resolve", params=params)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field


# --- the command ------------------------------------------------------------------------------------


@pytest.fixture
def run_cli(engine, tmp_path):
    env = {"JIESU_DATABASE_URL": engine.url.render_as_string(hide_password=False), "JIESU_VAR_DIR": str(tmp_path),
           "COLUMNS": "300"}  # rich wraps at the terminal width; a one-line message stays one line
    runner = CliRunner()

    def run(*args: str):
        with jiesu_env(env):
            result = runner.invoke(cli_app, ["places", "resolve", *args])
        assert "Traceback" not in result.output
        return result

    return run


def test_cli_prints_json(run_cli):
    result = run_cli("大兴区首座御园二里5号楼")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert (data["district_code"], data["street_code"], data["community_code"], data["ambiguous"]) == (
        "110115000000", "110115009000", "110115009016", False)
    assert data["confidence"] > 0.6 and data["best"]["street_name"] == "观音寺街道"
    data = json.loads(run_cli("香屯村").stdout)
    assert data["ambiguous"] is True and {a["path"] for a in data["alternatives"]} == set(XIANGTUN.values())


def test_cli_csv_keeps_the_other_columns(run_cli, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes("\ufeffid,text,channel\n1,大兴区首座御园二里5号楼,电话\n2,香屯村,app\n3,火星,\"a,b\"\n"
                    .encode("utf-8"))
    result = run_cli("--input", str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["id", "text", "channel", "district_code", "street_code", "community_code", "confidence", "ambiguous"],
        ["1", "大兴区首座御园二里5号楼", "电话", "110115000000", "110115009000", "110115009016", "0.885", "false"],
        ["2", "香屯村", "app", "", "", "", "0.350", "true"],
        ["3", "火星", "a,b", "", "", "", "0.000", "false"],
    ]


def test_cli_bad_input(run_cli, tmp_path):
    no_text = tmp_path / "no_text.csv"
    no_text.write_text("id,address\n1,香屯村\n", encoding="utf-8")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("text\n香屯村\n".encode("gbk"))
    for args, message in [(["--input", str(no_text), "--output", str(tmp_path / "o.csv")], "no `text` column"),
                          (["--input", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "o.csv")],
                           "no such file"),
                          (["--input", str(gbk), "--output", str(tmp_path / "o.csv")], "not UTF-8"),
                          (["香屯村", "--input", str(no_text), "--output", str(tmp_path / "o.csv")], "not both"),
                          ([], "give a text")]:
        result = run_cli(*args)
        assert result.exit_code != 0 and result.stdout == "", (args, result.output)
        assert message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
