"""Every Open311 endpoint and format against the spec, on SQLite and PostgreSQL.

- The JSON validates with the JSON Schemas of open311/schema-validation (shared/data/open311/samples/schemas),
  formats (date-time, uri) included.
- Every document has the shape of the real cities' and the spec's own documents in samples/: the same element
  tree in XML (root, wrappers, the fields of each item), the same keys in JSON, and the types a client expects
  (identifiers are strings, metadata/variable/required booleans, lat/long numbers).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from jiesu.callback import service as callback
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.open311 import service as open311
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.taxonomy.models import Category, RequestType
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel
from jiesu.tickets.rules import Step
from jiesu.units.models import Unit

jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="jsonschema_rs is not installed (pip install -e '.[dev]')")

BASE = "/open311/v2"
STREET = "110115009000"
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


@pytest.fixture
def samples(shared_data) -> Path:
    folder = shared_data / "open311" / "samples"
    if not folder.is_dir():
        pytest.skip(f"needs the Open311 samples at {folder}")
    return folder


def _code(session, name: str) -> str:
    return session.scalar(select(Category.code).where(Category.name == name, Category.level == 3))


@pytest.fixture
def city(client, session, clock, settings) -> dict[str, str]:
    """A few requests of every kind: Open311 ones with attributes, media and coordinates, one closed through
    the workflow, one from the hotline."""
    _, key = open311.create_key(session, SYSTEM, clock, "conformance")
    water, noise = _code(session, "自来水供应"), _code(session, "噪音污染")

    def post(**form) -> str:
        r = client.post(f"{BASE}/requests.json", data={"api_key": key, **form})
        assert r.status_code == 200, r.text
        return r.json()[0]["service_request_id"]

    out = {"key": key, "water_code": water, "token": "city-token"}
    out["water"] = post(service_code=water, lat="39.86", long="116.33", description="停水",
                        media_url="http://example.org/p.jpg", **{"attribute[SCOPE]": "building",
                                                                 "attribute[DANGER]": "no"})
    r = client.post(f"{BASE}/requests.json", data={"api_key": key, "service_code": water, "address_id": STREET,
                                                    "attribute[SCOPE]": "area", "attribute[DANGER]": "no"},
                    headers={"Idempotency-Key": out["token"]})
    assert r.status_code == 200, r.text
    out["noise"] = post(service_code=noise, address_string="大兴区观音寺街道",
                        **{"attribute[NOISE_SOURCE]": "business", "attribute[NOISE_TIME][]": "night"})
    out["closed"] = post(service_code=_code(session, "住房公积金"), address_id=STREET, description="公积金")
    unit = session.scalar(select(Unit).where(Unit.code == STREET))
    handler = Actor("h", Role.unit_handler, unit_id=unit.id)
    number = out["closed"]
    tickets.act(session, SYSTEM, clock, settings, number, Step.dispatch, tickets.StepInput(unit=STREET))
    clock.advance(timedelta(hours=1))
    tickets.act(session, handler, clock, settings, number, Step.sign)
    tickets.act(session, handler, clock, settings, number, Step.reply, tickets.StepInput(text="已答复"))
    callback.record(session, SYSTEM, clock, settings, number, callback.Answer(
        contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.satisfied))
    made = tickets.create_request(session, SYSTEM, clock, settings, tickets.NewRequest(
        text="楼上漏水", title="楼上漏水", request_type=RequestType.help, channel=Channel.hotline, area_code=STREET))
    out["hotline"] = made.ticket.number
    return out


def _validator(samples: Path, name: str):
    folder = samples / "schemas"

    def retrieve(uri: str) -> dict:
        return json.loads((folder / uri.rsplit("/", 1)[-1]).read_text())

    return jsonschema_rs.validator_for(json.loads((folder / name).read_text()), retriever=retrieve,
                                       base_uri=(folder / name).as_uri(), validate_formats=True)


def _valid(validator, doc) -> None:
    problems = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(doc)]
    assert not problems, problems[:5]


def _json(client, path: str, **params):
    r = client.get(f"{BASE}/{path}.json", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    return r.json()


def test_the_json_validates_with_the_spec_schemas(client, city, samples):
    services = _json(client, "services")
    _valid(_validator(samples, "services.json"), services)
    definition = _validator(samples, "service-definition.json")
    for s in services:
        if s["metadata"] or s["service_code"].endswith(".001"):
            _valid(definition, _json(client, f"services/{s['service_code']}"))
    requests = _validator(samples, "requests.json")
    listed = _json(client, "requests")
    assert {city["water"], city["noise"], city["closed"], city["hotline"]} <= {r["service_request_id"] for r in listed}
    _valid(requests, listed)
    _valid(requests, _json(client, "requests", extensions="true"))
    for number in (city["water"], city["closed"], city["hotline"]):
        _valid(requests, _json(client, f"requests/{number}"))
        _valid(requests, _json(client, f"requests/{number}", extensions="true"))
    one = _validator(samples, "request.json")
    for doc in listed:
        _valid(one, doc)


# --- shapes --------------------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_shape(data: bytes) -> dict[str, set[str]]:
    """Every element path with the names of its children (repeated items merged): the document's tree."""
    out: dict[str, set[str]] = {}

    def walk(el, path: str) -> None:
        here = f"{path}/{_local(el.tag)}"
        kids = out.setdefault(here, set())
        for child in el:
            kids.add(_local(child.tag))
            walk(child, here)

    walk(ET.fromstring(data), "")
    return {k: v for k, v in out.items() if v}


def json_shape(doc, path: str = "") -> dict[str, set[str]]:
    """Every object path with its keys (list items merged)."""
    out: dict[str, set[str]] = {}

    def walk(value, here: str) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item, here + "[]")
        elif isinstance(value, dict):
            out.setdefault(here, set()).update(value)
            for k, v in value.items():
                walk(v, f"{here}.{k}")

    walk(doc, path)
    return out


def _sample_json(path: Path):
    # The spec prints some identifiers as numbers with leading zeros (001), which is not JSON: read them as text.
    return json.loads(re.sub(r'("\s*:\s*)0(\d+)', r'\1"0\2"', path.read_text()))


def _xml(client, path: str, **params) -> bytes:
    r = client.get(f"{BASE}/{path}.xml", params=params)
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert b"xmlns" not in r.content  # no namespace, no schema
    return r.content


def test_xml_has_the_shape_of_the_spec_and_the_cities(client, city, samples):
    ours = {
        "services": xml_shape(_xml(client, "services")),
        "definition": xml_shape(_xml(client, f"services/{city['water_code']}")),
        "requests": xml_shape(_xml(client, "requests")),
        "one": xml_shape(_xml(client, f"requests/{city['closed']}")),
        "discovery": xml_shape(_xml(client, "discovery")),
        "errors": xml_shape(client.get(f"{BASE}/requests/20990101-000001.xml").content),
    }
    post = client.post(f"{BASE}/requests.xml", data={"api_key": city["key"], "service_code": _code_of(client),
                                                     "address_id": STREET}, headers={"Idempotency-Key": "tok-1"})
    assert post.status_code == 200, post.text
    ours["post"] = xml_shape(post.content)
    ours["token"] = xml_shape(_xml(client, "tokens/tok-1"))
    same = {  # (ours, sample): the same tree
        ("services", "spec-examples/service-list.xml"), ("services", "node-open311-dc-boston/dc-services.xml"),
        ("services", "codeforamerica-open311-ruby/services.xml"),
        ("definition", "spec-examples/service-definition.xml"),
        ("definition", "node-open311-dc-boston/dc-services-S0301.xml"),
        ("requests", "spec-examples/service-requests.xml"), ("requests", "open311status/requests_many.xml"),
        ("one", "spec-examples/service-request.xml"), ("one", "open311status/requests_single.xml"),
        ("one", "codeforamerica-open311-ruby/get_service_request.xml"),
        ("discovery", "spec-examples/discovery.xml"), ("discovery", "node-open311-dc-boston/discovery-dc.xml"),
        ("errors", "spec-examples/errors.xml"),
        ("errors", "codeforamerica-open311-ruby/get_service_request_not_found.xml"),
        ("errors", "node-open311-dc-boston/boston-err-submitrequest-base_is_duplicate.xml"),
        ("post", "spec-examples/service-request-post.xml"),
        ("post", "codeforamerica-open311-ruby/post_service_request.xml"),
        ("token", "spec-examples/request-from-token.xml"), ("token", "node-open311-dc-boston/token.xml"),
    }
    for mine, sample in sorted(same):
        assert ours[mine] == xml_shape((samples / sample).read_bytes()), f"{mine} vs {sample}"
    # Giessen leaves out group; ours has every field it has
    giessen = xml_shape((samples / "open311status/services_giessen.xml").read_bytes())
    assert giessen["/services/service"] < ours["services"]["/services/service"]
    # the old variants are not what we emit: <attribute> straight under <service_definition>, a bare <error>
    assert "/service_definition/attribute" not in ours["definition"]
    assert ours["requests"]["/service_requests/request"] == REQUEST_FIELDS


def test_service_request_updates_have_mysocietys_shape(client, city):
    """[ext] No real document in samples/: the shape of SPEC.md 10.1 (mySociety's open311-adapter)."""
    fields = {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"}
    updates = _json(client, "servicerequestupdates", service_request_id=city["closed"])
    assert updates and all(set(u) == fields and isinstance(u["update_id"], str) for u in updates)
    assert xml_shape(_xml(client, "servicerequestupdates")) == {"/service_request_updates": {"request_update"},
                                                                 "/service_request_updates/request_update": fields}


def _code_of(client) -> str:
    return next(s["service_code"] for s in client.get(f"{BASE}/services.json").json() if not s["metadata"])


def test_json_has_the_shape_of_the_spec_and_the_cities(client, city, samples):
    services = _json(client, "services")
    definition = _json(client, f"services/{city['water_code']}")
    requests = _json(client, "requests")
    extended = _json(client, f"requests/{city['water']}", extensions="true")
    r = client.post(f"{BASE}/requests.json", data={"api_key": city["key"], "service_code": _code_of(client),
                                                    "address_id": STREET}, headers={"Idempotency-Key": "tok-2"})
    posted = r.json()
    token = _json(client, "tokens/tok-2")
    errors = client.get(f"{BASE}/services/nothing.json").json()
    discovery = _json(client, "discovery")

    def same(doc, sample: str) -> None:
        assert json_shape(doc) == json_shape(_sample_json(samples / sample)), sample

    def covers(doc, sample: str, *, ignore: tuple[str, ...] = ()) -> None:  # every key the sample has, ours too
        theirs = json_shape(_sample_json(samples / sample))
        mine = json_shape(doc)
        for path, keys in theirs.items():
            if path in ignore:
                continue
            assert keys <= mine.get(path, set()), (sample, path, keys - mine.get(path, set()))

    same(services, "open311status/service_list.json")
    same(services, "open311status/bloomington_services.json")
    same(definition, "spec-examples/service-definition.json")
    same(requests, "spec-examples/service-requests.json")
    same(_json(client, f"requests/{city['closed']}"), "spec-examples/service-request.json")
    covers(requests, "open311status/service_requests.json")  # Chicago
    covers(requests, "open311status/bloomington_requests.json")
    # San Francisco's extensions: attributes and notes as theirs; of extended_attributes we share the channel (no
    # x, y or photos here)
    sf = extended[0] | {"extended_attributes": {"x": 0, "y": 0, "photos": []} | extended[0]["extended_attributes"]}
    covers([sf], "spec-examples/extended-attributes-request.json", ignore=("[].extended_attributes.photos[]",))
    assert extended[0]["attributes"] and extended[0]["notes"]
    same(posted, "spec-examples/service-request-post.json")
    same(token, "spec-examples/request-from-token.json")
    same(errors, "spec-examples/errors.json")
    same(discovery, "spec-examples/discovery.json")
    same(discovery, "node-open311-dc-boston/discovery-boston.json")
    # the types a client reads
    assert all(isinstance(s["service_code"], str) and isinstance(s["metadata"], bool) for s in services)
    for a in definition["attributes"]:
        assert isinstance(a["variable"], bool) and isinstance(a["required"], bool) and isinstance(a["order"], int)
        assert all(isinstance(v["key"], str) for v in a.get("values", []))
    for doc in requests:
        assert isinstance(doc["service_request_id"], str) and isinstance(doc["service_code"], str)
        assert doc["address_id"] is None or isinstance(doc["address_id"], str)
        assert doc["lat"] is None or isinstance(doc["lat"], float)
    assert isinstance(posted[0]["service_request_id"], str) and isinstance(token[0]["token"], str)
    assert isinstance(errors[0]["code"], int)


def test_every_format_and_error_of_every_endpoint(client, city, samples):
    """Each resource answers in both formats; each error answers in the format asked for; never a 5xx."""
    paths = ["discovery", "services", f"services/{city['water_code']}", "requests", f"requests/{city['water']}",
             f"tokens/{city['token']}", "servicerequestupdates"]
    for path in paths:
        for fmt in ("json", "xml"):
            r = client.get(f"{BASE}/{path}.{fmt}")
            assert r.status_code == 200, (path, fmt, r.text)
    bad = [("GET", "services/0.json", 404), ("GET", "requests/x.xml", 404), ("GET", "tokens/x.json", 404),
           ("GET", "services.json?jurisdiction_id=x.org", 404), ("GET", "requests.xml?status=new", 400),
           ("POST", "requests.xml", 403), ("POST", "requests.json", 403), ("PUT", "requests.json", 400),
           ("GET", "services.yaml", 404), ("GET", "nothing", 404)]
    for method, path, status in bad:
        r = client.request(method, f"{BASE}/{path}")
        assert r.status_code == status, (method, path, r.text)
        fmt = "xml" if path.split("?")[0].endswith(".xml") else "json"
        if fmt == "xml":
            assert xml_shape(r.content) == {"/errors": {"error"}, "/errors/error": {"code", "description"}}
        else:
            assert [set(e) for e in r.json()] == [{"code", "description"}]
