"""Third-party Open311 clients from PyPI, unmodified, against a running server, as an integrator would meet it.

The server is `make demo` in small: `jiesu demo seed` (places, units, categories, users, the classifier and
demo tickets; a copy of the session's seed, tests/conftest.py demo_var) on a SQLite file, an API key issued
with `jiesu apikeys create`, and `jiesu serve` on a free port.
- civicbot 0.4 (JSON) drives every endpoint: services, a definition, validated POSTs with attributes (single and
  multi-valued lists), a request by id, lists by ids, code, status, dates and page size, a token, and the
  403/404 errors in the spec's shape.
- georeport 0.3.1 reads the XML: the service list, a definition, lists and one request (through xmltodict,
  which gives a dict for a single element and strings for everything).
- chicagorequests 0.0.5's Downloader (pointed here by a subclass, as its docs suggest) pages through a window
  with `extensions=true`, `page` and `page_size=200` until a short page, by service code and by updated time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.served import demo_env, jiesu, serving

civicbot_http = pytest.importorskip("civicbot.http", reason="civicbot is not installed (pip install -e '.[dev]')")
georeport = pytest.importorskip("georeport", reason="georeport is not installed (pip install -e '.[dev]')")
requests = pytest.importorskip("requests")
chicagorequests = pytest.importorskip("chicagorequests", reason="chicagorequests is not installed")

from civicbot.open311 import Open311Client  # noqa: E402
from civicbot.registry import Endpoint  # noqa: E402

JURISDICTION = "beijing.gov.cn"
FENGTAI = (39.86, 116.33)  # WGS84 lat, long in 丰台区


@dataclass
class Server:
    base: str  # http://127.0.0.1:PORT/open311/v2
    key: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def server(request):
    env = demo_env(request, "open311-clients", "demo.db", COLUMNS="200")  # more than one page of 200 in 6 days
    key = jiesu(env, "apikeys", "create", "civicbot", "--note", "conformance test").strip().splitlines()[-1]
    assert key.startswith("o311_")
    with serving(env, "--no-clock") as url:
        yield Server(f"{url}/open311/v2", key, env)


@pytest.fixture(scope="module")
def civic(server) -> Open311Client:
    endpoint = Endpoint(id="jiesu", name="Jiesu 12345", base_url=server.base, write=True)
    transport = civicbot_http.HttpTransport(rate_limiter=civicbot_http.RateLimiter(min_interval=0))
    return Open311Client(endpoint, transport=transport, jurisdiction_id=JURISDICTION)


def _by_name(services: list[dict], name: str) -> dict:
    return next(s for s in services if s["service_name"] == name)


@pytest.fixture(scope="module")
def filed(civic, server) -> dict[str, str]:
    """Requests filed through civicbot's validated POST (it fetches the list and the definition first)."""
    services = civic.list_services()
    water, noise = _by_name(services, "自来水供应"), _by_name(services, "噪音污染")
    made = civic.create_request(water["service_code"], lat=FENGTAI[0], lng=FENGTAI[1],
                                description="小区从早上开始停水", attributes={"SCOPE": "building", "DANGER": "no"},
                                first_name="芳", last_name="王", phone="13800000000", account_id="civic-1",
                                media_url="http://example.org/photo.jpg", api_key=server.key, dry_run=False,
                                confirm="SEND", validate_remote=True)
    assert not made.dry_run and isinstance(made.response, list) and len(made.response) == 1
    water_id = made.response[0]["service_request_id"]
    assert made.response[0]["account_id"] == "civic-1" and "工单号" in made.response[0]["service_notice"]
    made = civic.create_request(noise["service_code"], address_string="大兴区观音寺街道首座御园二里",
                                description="夜间施工噪音扰民",
                                attributes={"NOISE_SOURCE": "construction", "NOISE_TIME": ["night", "holiday"]},
                                api_key=server.key, dry_run=False, confirm="SEND", validate_remote=True)
    noise_id = made.response[0]["service_request_id"]
    return {"water": water_id, "noise": noise_id, "water_code": water["service_code"],
            "noise_code": noise["service_code"]}


# --- civicbot: every endpoint, JSON ---------------------------------------------------------------------

def test_civicbot_lists_services_and_reads_definitions(civic):
    services = civic.list_services()
    assert len(services) == 517 and all(isinstance(s["service_code"], str) for s in services)
    water = _by_name(services, "自来水供应")
    assert water["metadata"] is True and water["type"] == "realtime" and water["group"] == "城乡建设"
    definition = civic.get_service_definition(water["service_code"])
    assert definition["service_code"] == water["service_code"]
    assert [a["code"] for a in definition["attributes"]] == ["SCOPE", "DANGER", "SINCE"]
    plain = next(s for s in services if not s["metadata"])
    assert civic.get_service_definition(plain["service_code"])["attributes"] == []


def test_civicbot_posts_and_reads_back(civic, filed):
    water = civic.get_request(filed["water"])
    assert water["service_request_id"] == filed["water"] and water["status"] == "open"
    assert water["service_code"] == filed["water_code"] and water["description"] == "小区从早上开始停水"
    assert water["lat"] == pytest.approx(FENGTAI[0]) and water["long"] == pytest.approx(FENGTAI[1])
    assert water["media_url"] == "http://example.org/photo.jpg" and water["address"] == "北京市丰台区"
    noise = civic.get_request(filed["noise"])
    assert noise["address"] == "大兴区观音寺街道首座御园二里" and noise["address_id"].startswith("110115009")
    both = civic.list_requests(service_request_ids=[filed["water"], filed["noise"]])
    assert {r["service_request_id"] for r in both} == {filed["water"], filed["noise"]}
    by_code = civic.list_requests(service_code=filed["water_code"])
    assert filed["water"] in {r["service_request_id"] for r in by_code}
    assert {r["service_code"] for r in by_code} == {filed["water_code"]}
    open_ = civic.list_requests(status="open", page_size=50)
    assert 0 < len(open_) <= 50 and all(r["status"] == "open" for r in open_)
    closed = civic.list_requests(status="closed")
    assert closed and all(r["status"] == "closed" for r in closed)  # the demo closed and merged some
    now = datetime.now(UTC)
    window = civic.list_requests(start_date=(now - timedelta(hours=1)).isoformat(),
                                 end_date=(now + timedelta(hours=1)).isoformat())
    assert {filed["water"], filed["noise"]} <= {r["service_request_id"] for r in window}
    everything = civic.list_requests()
    assert len(everything) >= 240  # the demo's tickets and ours


def test_civicbot_token_and_errors(civic, server, filed):
    code = filed["water_code"]
    form = civic.build_request(code, lat=FENGTAI[0], lng=FENGTAI[1], attributes={"SCOPE": "household",
                                                                                 "DANGER": "unknown"},
                               api_key=server.key).form
    answer = civic.http.post_form(f"{server.base}/requests.json", form, headers={"Idempotency-Key": "civic-77"})
    tokens = civic.get_token("civic-77")
    assert tokens == [{"service_request_id": answer[0]["service_request_id"], "token": "civic-77"}]
    with pytest.raises(civicbot_http.HttpError) as bad_key:
        civic.create_request(code, lat=FENGTAI[0], lng=FENGTAI[1], attributes={"SCOPE": "building", "DANGER": "no"},
                             api_key="o311_not-a-key", dry_run=False, confirm="SEND")
    assert bad_key.value.status == 403 and json.loads(bad_key.value.body)[0]["code"] == 403
    for call in (lambda: civic.get_service_definition("99.99.999"), lambda: civic.get_request("20990101-000001"),
                 lambda: civic.get_token("never-sent")):
        with pytest.raises(civicbot_http.HttpError) as missing:
            call()
        assert missing.value.status == 404
        [error] = json.loads(missing.value.body)
        assert error["code"] == 404 and error["description"]
    with pytest.raises(civicbot_http.HttpError) as outside:  # civicbot validates ranges, not jurisdictions
        civic.create_request(code, lat=34.05, lng=-118.24, attributes={"SCOPE": "building", "DANGER": "no"},
                             api_key=server.key, dry_run=False, confirm="SEND")
    assert outside.value.status == 400 and "outside the jurisdiction" in outside.value.body


def test_a_revoked_key_stops_working(civic, server):
    key = jiesu(server.env, "apikeys", "create", "short-lived").strip().splitlines()[-1]
    listed = jiesu(server.env, "apikeys", "list")
    assert "civicbot" in listed and "short-lived" in listed and key not in listed
    services = civic.list_services()
    code = next(s for s in services if not s["metadata"])["service_code"]
    ok = civic.create_request(code, address_id="110115009000", api_key=key, dry_run=False, confirm="SEND")
    assert ok.response[0]["service_request_id"]
    jiesu(server.env, "apikeys", "revoke", "short-lived")
    with pytest.raises(civicbot_http.HttpError) as refused:
        civic.create_request(code, address_id="110115009000", api_key=key, dry_run=False, confirm="SEND")
    assert refused.value.status == 403
    again = subprocess.run([sys.executable, "-m", "jiesu.cli", "apikeys", "create", "short-lived"], env=server.env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "exists" in again.stderr and "Traceback" not in again.stderr


# --- georeport: the XML reads (and one JSON) ---------------------------------------------------------------

def test_georeport_reads_xml(server, filed):
    gx = georeport.GeoReport(server.base, jurisdiction=JURISDICTION, output_format="xml")
    services = gx.get_service_list()
    assert len(services) == 517 and {s["metadata"] for s in services} == {"true", "false"}
    definition = gx.get_service_definition(filed["water_code"])
    assert definition["service_code"] == filed["water_code"]
    attributes = definition["attributes"]["attribute"]
    assert [a["code"] for a in attributes] == ["SCOPE", "DANGER", "SINCE"]
    assert attributes[0]["required"] == "true" and attributes[0]["values"]["value"][1]["key"] == "building"
    one = gx.get_service_request(filed["water"])
    assert one["service_request_id"] == filed["water"] and one["status"] == "open" and one["zipcode"] is None
    single = gx.get_service_requests(service_request_id=filed["noise"])  # one element: a dict, not a list
    assert single["service_request_id"] == filed["noise"]
    many = gx.get_service_requests(status="open", start_date=(datetime.now(UTC) - timedelta(days=10)).isoformat())
    assert isinstance(many, list) and len(many) > 2 and all(r["status"] == "open" for r in many)
    assert filed["water"] in {r["service_request_id"] for r in many}
    by_code = gx.get_service_requests(service_code=filed["noise_code"])
    by_code = [by_code] if isinstance(by_code, dict) else by_code  # the demo may have tickets of that code too
    assert filed["noise"] in {r["service_request_id"] for r in by_code}
    assert {r["service_code"] for r in by_code} == {filed["noise_code"]}
    with pytest.raises(requests.HTTPError) as missing:
        gx.get_service_request("20990101-000001")
    answer = missing.value.response
    assert answer.status_code == 404 and "<errors><error><code>404</code>" in answer.text


def test_georeport_reads_json_too(server, filed):
    g = georeport.GeoReport(server.base, jurisdiction=JURISDICTION)
    assert g.get_service_request(filed["noise"])["service_code"] == filed["noise_code"]
    assert len(g.get_service_list()) == 517


# --- chicagorequests: paging and extensions ----------------------------------------------------------------

def test_chicagorequests_pages_with_extensions(server, civic, filed):
    class Here(chicagorequests.Downloader):
        BASE_URL = f"{server.base}/requests.json"

    now = datetime.now(UTC)
    window = (now - timedelta(days=6), now + timedelta(hours=1))
    rows = Here()(window)
    listed = civic.list_requests(start_date=window[0].isoformat(), end_date=window[1].isoformat())
    assert len(rows) == len(listed) > 200  # two pages of 200 and a short one
    assert len({r["service_request_id"] for r in rows}) == len(rows)  # the pages neither overlap nor skip
    assert {r["service_request_id"] for r in rows} == {r["service_request_id"] for r in listed}
    assert all({"extended_attributes", "attributes", "notes"} <= set(r) for r in rows)
    water = next(r for r in rows if r["service_request_id"] == filed["water"])
    assert water["extended_attributes"]["channel"] == "open311" and water["notes"][0]["type"] == "submitted"
    assert {a["name"] for a in water["attributes"]} == {"SCOPE", "DANGER"}
    by_code = Here(request_type=[filed["water_code"]])(window)
    assert filed["water"] in {r["service_request_id"] for r in by_code}
    assert {r["service_code"] for r in by_code} == {filed["water_code"]}
    recent = Here(updated_start_date=(now - timedelta(minutes=30)).isoformat(),
                  updated_end_date=(now + timedelta(hours=1)).isoformat())(window)
    assert {filed["water"], filed["noise"]} <= {r["service_request_id"] for r in recent} < set(
        r["service_request_id"] for r in rows)
