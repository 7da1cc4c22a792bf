"""The public page of how the city answers (/public): anyone, no login, no personal data; the city, a district,
a street; a map of the districts shaded by a chosen measure; the latest replies, masked.

Reads the monthly rollup only (jiesu/public/service.py), so a page costs a few small queries however many
tickets there are; answers are cacheable (Cache-Control: public, an ETag, 304 on If-None-Match) and set no
cookie (the layout here asks for no CSRF token: the pages have no form that changes anything).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError

from jiesu.api.deps import ClockDep, SessionDep, SettingsDep
from jiesu.db import unit_of_work
from jiesu.errors import InvalidInput, PlaceNotFound
from jiesu.limits import MAX_CODE
from jiesu.permissions import ANONYMOUS
from jiesu.public import rules
from jiesu.public import service as public
from jiesu.public.schemas import MEASURES
from jiesu.web import pages

router = APIRouter(include_in_schema=False)

MAX_AGE = 300  # seconds a browser or a proxy may keep a page
MAP_TTL = 300.0  # seconds the process keeps the districts' shapes
_map_lock = threading.Lock()


def _cached(request: Request, body: bytes, media_type: str, status: int = 200) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={MAX_AGE}", "ETag": etag, "Vary": "Cookie"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _map(request: Request, session) -> dict:
    """The districts' GeoJSON (simplified), their SVG paths and names: kept per process for MAP_TTL."""
    state = request.app.state
    kept = getattr(state, "public_map", None)
    if kept is not None and time.monotonic() - kept["at"] < MAP_TTL:
        return kept
    with _map_lock:
        doc, names = public.district_shapes(session)
        paths, height = rules.svg_paths({f["id"]: f["geometry"] for f in doc["features"]})
        kept = {"at": time.monotonic(), "geojson": json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
                .encode("utf-8"), "paths": paths, "height": height, "names": names}
        state.public_map = kept
    return kept


@router.get("/public/districts.geojson")
def districts_geojson(request: Request, session: SessionDep) -> Response:
    """The districts' polygons (GeoJSON, GCJ-02, outer rings simplified to about 10 m), for the public map."""
    return _cached(request, _map(request, session)["geojson"], "application/geo+json")


def _fmt_hours(hours: float | None) -> str:
    if hours is None:
        return "—"
    return f"{hours:.1f}"


def _page(request: Request, session, settings, clock, month: str | None, district: str | None = None,
          street: str | None = None) -> Response:
    try:
        end = public.check_month(settings, clock, month)
    except InvalidInput as exc:
        return pages.error_page(request, ANONYMOUS, 422, field=exc.field)
    months = public.months_to(end)
    # A closed month nobody asked for yet is built once, then read. Checked and built before this request's own
    # session reads anything: its transaction's snapshot (SQLite's) then includes what the writer committed.
    with unit_of_work(request.app.state.sessions) as check:
        to_build = public.missing(check, months)
    if to_build:
        try:
            with unit_of_work(request.app.state.sessions, write=True) as writer:
                public.ensure(writer, settings, clock, to_build)
        except IntegrityError:
            pass  # another request built the same month meanwhile: read theirs
    try:
        place = public.place(session, district, street)
    except PlaceNotFound as exc:
        return pages.error_page(request, ANONYMOUS, 404, field=exc.field)
    v = public.view(session, settings, place, end)
    shapes = _map(request, session)
    values = {code: v.map_values.get(code, public.measure_values(None)) for code in shapes["paths"]}
    response = pages.render(request, "public.html", ANONYMOUS, view=v, place=place, month=month or "",
                            measures=MEASURES, paths=shapes["paths"], map_height=shapes["height"],
                            map_names=shapes["names"], map_values=values, hours=_fmt_hours,
                            pct=lambda x: "—" if x is None else f"{100 * x:.1f}%",
                            points=lambda x: "—" if x is None else f"{x:.2f}", tz=settings.tz,
                            min_sample=settings.assess_min_sample, last_month=public.last_closed(settings, clock),
                            map_json=json.dumps({"values": values, "names": shapes["names"],
                                                 "measures": {k: [lbl, kind] for k, (lbl, kind) in MEASURES.items()}},
                                                ensure_ascii=False))
    if "set-cookie" in response.headers:  # ?lang= chose a language: personal, not for a shared cache
        response.headers["Cache-Control"] = "private, max-age=0"
        return response
    return _cached(request, bytes(response.body), "text/html; charset=utf-8")


Month = Annotated[str | None, Query(max_length=16)]


@router.get("/public", response_class=HTMLResponse)
def city_page(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
              month: Month = None) -> Response:
    return _page(request, session, settings, clock, month)


@router.get("/public/{district}", response_class=HTMLResponse)
def district_page(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, district: str,
                  month: Month = None) -> Response:
    return _page(request, session, settings, clock, month, district[:MAX_CODE])


@router.get("/public/{district}/{street}", response_class=HTMLResponse)
def street_page(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, district: str,
                street: str, month: Month = None) -> Response:
    return _page(request, session, settings, clock, month, district[:MAX_CODE], street[:MAX_CODE])
