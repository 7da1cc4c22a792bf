"""Place use cases: import a gazetteer, find places by name, walk the tree, locate a point, resolve free text."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, joinedload, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from jiesu.data import DATA_DIR, open_text, read_csv
from jiesu.data import resolve as data_file
from jiesu.db import ReferenceCache
from jiesu.errors import DataSourceError, InvalidInput, PlaceNotFound
from jiesu.permissions import Actor, Permission, require
from jiesu.places import resolve as resolving
from jiesu.places import rules
from jiesu.places.models import LEVEL_ORDER, Area, AreaAlias, AreaBoundary, AreaLevel

DEFAULT_SOURCE = DATA_DIR / "places"
Progress = Callable[[str, int, int], None]  # (stage, done, total)

DISTRICT_COLUMNS = {"code", "name", "short_name"}
STREET_COLUMNS = {"code", "name", "district_code", "kind"}
COMMUNITY_COLUMNS = {"code", "name", "short_name", "kind", "street_code"}


@dataclass
class ImportReport:
    city: str
    districts: int
    streets: int
    communities: int
    aliases: int
    boundaries: int
    inserted: int
    updated: int


def _read_csv(source: Path, name: str, required: set[str]) -> list[dict[str, str]]:
    rows = read_csv(name, required=sorted(required), base=source, field=name)
    for i, r in enumerate(rows, start=2):
        if not r["code"] or not r["name"]:
            raise DataSourceError(f"{name} line {i}: empty code or name", field=name)
    return rows


def import_gazetteer(session: Session, actor: Actor, source: Path | None = None, *,
                     city_name: str | None = None, progress: Progress | None = None) -> ImportReport:
    """Load (or refresh) a city's tree from districts.csv, streets.csv, communities.csv and an
    optional districts.geojson. Keyed by code: running it twice changes nothing; manual aliases
    and residential complexes registered by administrators are kept."""
    require(actor, Permission.places_edit)
    source = Path(source) if source else DEFAULT_SOURCE
    if not source.is_dir():
        raise DataSourceError(f"{source} is not a folder with districts.csv, streets.csv, communities.csv")
    districts = _read_csv(source, "districts.csv", DISTRICT_COLUMNS)
    streets = _read_csv(source, "streets.csv", STREET_COLUMNS)
    communities = _read_csv(source, "communities.csv", COMMUNITY_COLUMNS)
    if not districts:
        raise DataSourceError("districts.csv has no rows")

    city_code = districts[0]["code"][:4].ljust(12, "0")
    if city_name is None:
        if city_code != "110100000000":
            raise InvalidInput("give the city's name for a gazetteer other than Beijing's", field="city_name")
        city_name = "北京市"

    existing = dict(session.execute(select(Area.code, Area.id)).all())
    counts = {"inserted": 0, "updated": 0}

    def upsert(rows: list[dict]) -> None:
        new = [r for r in rows if r["code"] not in existing]
        old = [{**r, "id": existing[r["code"]]} for r in rows if r["code"] in existing]
        if new:
            session.execute(insert(Area), new)
            counts["inserted"] += len(new)
        if old:
            session.execute(update(Area), old)
            counts["updated"] += len(old)
        session.flush()
        codes = [r["code"] for r in new]
        for i in range(0, len(codes), 500):
            chunk = codes[i:i + 500]
            existing.update(session.execute(select(Area.code, Area.id).where(Area.code.in_(chunk))).all())

    def area_row(code: str, name: str, short: str, level: AreaLevel, kind: str, parent: str | None,
                 district: str | None, street: str | None, path: str, formal: str | None = None) -> dict:
        return {"code": code, "name": name, "short_name": short or name, "level": level, "kind": kind,
                "formal_name": formal or None, "parent_id": existing.get(parent) if parent else None,
                "district_code": district, "street_code": street, "path": path,
                "center_lng": None, "center_lat": None}

    total = 1 + len(districts) + len(streets) + len(communities)
    upsert([area_row(city_code, city_name, city_name, AreaLevel.city, "市", None, None, None, city_name)])
    district_names: dict[str, str] = {}
    rows = []
    for d in districts:
        district_names[d["code"]] = d["name"]
        rows.append(area_row(d["code"], d["name"], d["short_name"], AreaLevel.district, "区", city_code,
                             d["code"], None, f"{city_name}/{d['name']}"))
    upsert(rows)
    if progress:
        progress("districts", 1 + len(districts), total)

    street_paths: dict[str, tuple[str, str]] = {}
    rows = []
    for s in streets:
        if s["district_code"] not in district_names:
            raise DataSourceError(f"streets.csv: {s['code']} {s['name']} names unknown district "
                                  f"{s['district_code']}", field="streets.csv")
        path = f"{city_name}/{district_names[s['district_code']]}/{s['name']}"
        street_paths[s["code"]] = (s["district_code"], path)
        short = rules.strip_suffix(s["name"], rules.STREET_SUFFIXES)
        rows.append(area_row(s["code"], s["name"], short, AreaLevel.street, s["kind"], s["district_code"],
                             s["district_code"], s["code"], path,
                             formal=s.get("mca_name") if s.get("mca_name") != s["name"] else None))
    upsert(rows)
    if progress:
        progress("streets", 1 + len(districts) + len(streets), total)

    rows = []
    for i, c in enumerate(communities, start=1):
        if c["street_code"] not in street_paths:
            raise DataSourceError(f"communities.csv: {c['code']} {c['name']} names unknown street "
                                  f"{c['street_code']}", field="communities.csv")
        district_code, street_path = street_paths[c["street_code"]]
        short = rules.community_short(c["short_name"] or c["name"])
        rows.append(area_row(c["code"], c["name"], short, AreaLevel.community, c["kind"], c["street_code"],
                             district_code, c["street_code"], f"{street_path}/{short}"))
        if len(rows) == 2000 or i == len(communities):
            upsert(rows)
            rows = []
            if progress:
                progress("communities", 1 + len(districts) + len(streets) + i, total)

    alias_count = _rebuild_aliases(session, districts, streets, communities, existing)
    boundaries = _import_boundaries(session, source, existing)
    resolving.reset()  # names may have changed in place, which the resolver's stamp would not see
    if progress:
        progress("done", total, total)
    return ImportReport(city=city_name, districts=len(districts), streets=len(streets),
                        communities=len(communities), aliases=alias_count, boundaries=boundaries,
                        inserted=counts["inserted"], updated=counts["updated"])


def _rebuild_aliases(session: Session, districts: list[dict], streets: list[dict], communities: list[dict],
                     ids: dict[str, int]) -> int:
    imported_ids = [ids[r["code"]] for r in (*districts, *streets, *communities)]
    for i in range(0, len(imported_ids), 900):
        session.execute(delete(AreaAlias).where(AreaAlias.area_id.in_(imported_ids[i:i + 900]),
                                                AreaAlias.source != "manual"))
    manual = set(session.execute(select(AreaAlias.area_id, AreaAlias.alias)
                                 .where(AreaAlias.source == "manual")))
    rows = []
    for level, group in (("district", districts), ("street", streets), ("community", communities)):
        for r in group:
            formal = r.get("mca_name") or None
            area_id = ids[r["code"]]
            short = rules.community_short(r.get("short_name") or r["name"]) if level == "community" else ""
            for alias in rules.aliases_for(level, r["name"], short, formal):
                if (area_id, alias) not in manual:
                    source = "formal" if formal and alias == formal else "generated"
                    rows.append({"area_id": area_id, "alias": alias, "source": source})
    if rows:
        session.execute(insert(AreaAlias), rows)
    return len(rows)


def _import_boundaries(session: Session, source: Path, ids: dict[str, int]) -> int:
    try:
        path = data_file("districts.geojson", base=source)
    except FileNotFoundError:
        return 0
    with open_text(path) as fh:
        try:
            doc = json.load(fh)
        except json.JSONDecodeError as exc:
            raise DataSourceError(f"districts.geojson: not JSON ({exc})", field="districts.geojson") from exc
    crs = "GCJ-02"
    count = 0
    for feature in doc.get("features", []):
        props = feature.get("properties") or {}
        code = props.get("code")
        if code not in ids:
            raise DataSourceError(f"districts.geojson: feature {props.get('name')} has unknown code {code}",
                                  field="districts.geojson")
        geometry = feature["geometry"]
        min_lng, min_lat, max_lng, max_lat = rules.bbox(geometry)
        crs = props.get("crs_note", crs)
        values = {"area_id": ids[code], "crs": crs, "geojson": json.dumps(geometry, separators=(",", ":")),
                  "min_lng": min_lng, "min_lat": min_lat, "max_lng": max_lng, "max_lat": max_lat}
        session.execute(delete(AreaBoundary).where(AreaBoundary.area_id == ids[code]))
        session.execute(insert(AreaBoundary), [values])
        center = props.get("center") or props.get("centroid")
        if center:
            session.execute(update(Area).where(Area.id == ids[code])
                            .values(center_lng=center[0], center_lat=center[1]))
        count += 1
    return count


# --- lookups ---------------------------------------------------------------------------------------


@dataclass
class PlaceMatch:
    area: Area
    matched: str  # the name or alias that matched
    exact: bool


@dataclass
class PlaceSearch:
    matches: list[PlaceMatch]  # the first `limit`, exact matches first
    total: int
    exact: int  # how many places carry exactly the name asked for, over all matches, not just this page

    @property
    def ambiguous(self) -> bool:
        return self.exact > 1


def find(session: Session, actor: Actor, query: str, *, level: AreaLevel | None = None,
         district_code: str | None = None, limit: int = 50) -> PlaceSearch:
    """Every place whose name, short name or alias contains `query`, exact matches first, then by
    level (district, street, community) and code. Ambiguity is shown, never resolved silently."""
    require(actor, Permission.places_read)
    q = rules.normalise(query)
    if not q:
        raise InvalidInput("query must not be empty", field="q")
    if district_code:
        district = session.scalar(select(Area).where(Area.code == district_code, Area.level == AreaLevel.district))
        if district is None:
            raise InvalidInput(f"no district with code {district_code}", field="district_code")
    matches = _search(session, q, level, district_code)
    if not matches and not district_code:
        # "海淀区八里庄", "海淀 八里庄": a leading district name narrows the search. Tried only when the whole
        # text matches nothing, so that 朝阳门 (in 东城区) is never read as 朝阳(区) + 门.
        split = _split_district(session, q)
        if split:
            matches = _search(session, split[1], level, split[0])
    matches.sort(key=lambda m: (not m.exact, LEVEL_ORDER[m.area.level], m.area.code))
    return PlaceSearch(matches=matches[:limit], total=len(matches), exact=sum(m.exact for m in matches))


def _search(session: Session, q: str, level: AreaLevel | None, district_code: str | None) -> list[PlaceMatch]:
    variants = rules.spellings(q)
    conditions = []
    for v in variants:
        pattern = f"%{_escape_like(v)}%"
        conditions += [Area.name.like(pattern, escape="\\"), Area.short_name.like(pattern, escape="\\"),
                       Area.formal_name.like(pattern, escape="\\"),
                       Area.id.in_(select(AreaAlias.area_id).where(AreaAlias.alias.like(pattern, escape="\\")))]
    stmt = select(Area).where(or_(*conditions))
    if level:
        stmt = stmt.where(Area.level == level)
    if district_code:
        stmt = stmt.where(Area.district_code == district_code)
    areas = session.scalars(stmt).all()
    alias_rows = session.execute(select(AreaAlias.area_id, AreaAlias.alias)
                                 .where(AreaAlias.area_id.in_([a.id for a in areas]))).all() if areas else []
    aliases: dict[int, list[str]] = {}
    for area_id, alias in alias_rows:
        aliases.setdefault(area_id, []).append(alias)
    matches = []
    for a in areas:
        names = [a.name, a.short_name, a.formal_name or "", *aliases.get(a.id, [])]
        exact = next((n for n in names if n in variants), None)
        matched = exact or next((n for n in names if any(v in n for v in variants)), a.name)
        matches.append(PlaceMatch(area=a, matched=matched, exact=exact is not None))
    return matches


def _split_district(session: Session, q: str) -> tuple[str, str] | None:
    """('110108000000', '八里庄') for '海淀区八里庄' or '海淀 八里庄'; None when q names no district first."""
    districts = session.execute(select(Area.code, Area.name, Area.short_name)
                                .where(Area.level == AreaLevel.district)).all()
    for code, name, short in districts:
        for prefix in (name, short):  # the full name first, so 海淀区 is not read as 海淀 + 区...
            rest = q[len(prefix):].strip()
            if q.startswith(prefix) and rest:
                return code, rest
    return None


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get(session: Session, actor: Actor, code: str) -> Area:
    require(actor, Permission.places_read)
    return by_code(session, code)


def by_code(session: Session, code: str) -> Area:
    """The place with this code, for the services below the use cases: no actor, no permission to check. With
    its parent (lazy="raise"): a place is shown with it."""
    area = session.scalar(select(Area).where(Area.code == code).options(joinedload(Area.parent)))
    if area is None:
        raise PlaceNotFound(f"no place with code {code}", field="code")
    return area


_AREAS = ReferenceCache(ttl=300)


def get_cached(session: Session, actor: Actor, code: str) -> Area:
    """get, for intake: the place's columns kept five minutes per process (db.ReferenceCache) and put into the
    session as loaded (merge without load, SQLAlchemy's recipe for cached objects), with no query."""
    require(actor, Permission.places_read)

    def load() -> tuple[tuple, dict] | None:
        row = session.connection().execute(select(Area.__table__).where(Area.code == code)).mappings().first()
        if row is None:
            return None
        return identity_key(Area, row["id"]), {Area.__table__.c[name].key: v for name, v in row.items()}

    cached = _AREAS.get(session, code, load)
    if cached is None:
        raise PlaceNotFound(f"no place with code {code}", field="code")
    key, values = cached
    loaded = session.identity_map.get(key)
    if loaded is not None:  # the session's own copy is as fresh as the cache's, or fresher
        return loaded
    area = Area(**values)
    make_transient_to_detached(area)
    session.add(area)  # detached, with its identity: now persistent, as if loaded (no query)
    return area


def children(session: Session, actor: Actor, code: str | None = None) -> list[Area]:
    """The places directly below `code`, or the city level when no code is given."""
    require(actor, Permission.places_read)
    if code is None:
        return list(session.scalars(select(Area).where(Area.parent_id.is_(None)).order_by(Area.code)))
    parent = aliased(Area)
    kids = list(session.scalars(select(Area).join(parent, Area.parent_id == parent.id).where(parent.code == code)
                                .order_by(Area.code)))
    if not kids:
        by_code(session, code)  # a place without children, or none: PlaceNotFound
    return kids


def aliases_of(session: Session, actor: Actor, code: str) -> list[AreaAlias]:
    area = get(session, actor, code)
    return list(session.scalars(select(AreaAlias).where(AreaAlias.area_id == area.id).order_by(AreaAlias.id)))


def add_alias(session: Session, actor: Actor, code: str, alias: str) -> AreaAlias:
    require(actor, Permission.places_edit)
    alias = alias.strip()
    if len(alias) < rules.MIN_ALIAS_LENGTH:
        raise InvalidInput(f"an alias needs at least {rules.MIN_ALIAS_LENGTH} characters", field="alias")
    area = get(session, actor, code)
    row = session.scalar(select(AreaAlias).where(AreaAlias.area_id == area.id, AreaAlias.alias == alias))
    if row is None:
        row = AreaAlias(area_id=area.id, alias=alias, source="manual")
        session.add(row)
    else:
        row.source = "manual"  # an administrator's word outlives the next re-import
    session.flush()
    resolving.reset()
    return row


def add_complex(session: Session, actor: Actor, community_code: str, name: str) -> Area:
    """Register a residential complex (小区) under a community, e.g. 首座御园 under its 社区."""
    require(actor, Permission.places_edit)
    name = name.strip()
    if not name:
        raise InvalidInput("a complex needs a name", field="name")
    community = get(session, actor, community_code)
    if community.level != AreaLevel.community:
        raise InvalidInput(f"{community_code} is a {community.level.value}, not a community",
                           field="community_code")
    same = session.scalar(select(Area).where(Area.parent_id == community.id, Area.name == name))
    if same is not None:
        return same
    n = session.scalar(select(func.count()).select_from(Area).where(Area.parent_id == community.id)) or 0
    area = Area(code=f"{community.code}-{n + 1:03d}", name=name, short_name=name, level=AreaLevel.complex,
                kind="小区", parent_id=community.id, district_code=community.district_code,
                street_code=community.street_code, path=f"{community.path}/{name}")
    session.add(area)
    session.flush()
    resolving.reset()
    return area


def counts(session: Session, actor: Actor) -> dict[str, int]:
    require(actor, Permission.places_read)
    rows = session.execute(select(Area.level, func.count()).group_by(Area.level)).all()
    out = {lvl.value: 0 for lvl in AreaLevel}
    out.update({lvl.value if isinstance(lvl, AreaLevel) else lvl: n for lvl, n in rows})
    return out


def locate(session: Session, actor: Actor, lng: float, lat: float) -> Area | None:
    """The district whose polygon holds the point (coordinates in the boundaries' CRS, GCJ-02 here)."""
    require(actor, Permission.places_read)
    if not (-180 <= lng <= 180):
        raise InvalidInput("longitude must be between -180 and 180", field="lng")
    if not (-90 <= lat <= 90):
        raise InvalidInput("latitude must be between -90 and 90", field="lat")
    candidates = session.scalars(select(AreaBoundary).where(
        AreaBoundary.min_lng <= lng, AreaBoundary.max_lng >= lng,
        AreaBoundary.min_lat <= lat, AreaBoundary.max_lat >= lat)).all()
    for b in candidates:
        if rules.contains(json.loads(b.geojson), lng, lat):
            return session.get(Area, b.area_id)
    return None


def resolve(session: Session, actor: Actor, text: str, lng: float | None = None,
            lat: float | None = None) -> resolving.Resolution:
    """Read a citizen's address or message as district -> street/township -> community, with a
    confidence; a name several places carry comes back `ambiguous` with all of them. Coordinates
    (GCJ-02, both or neither) add the district that holds the point."""
    require(actor, Permission.places_read)
    if text is None or not text.strip():
        raise InvalidInput("text must not be empty", field="text")
    if len(text) > resolving.MAX_TEXT_LENGTH:
        raise InvalidInput(f"text is longer than {resolving.MAX_TEXT_LENGTH} characters", field="text")
    if (lng is None) != (lat is None):
        raise InvalidInput("give both lng and lat, or neither", field="lat" if lat is None else "lng")
    if lng is not None and not (-180 <= lng <= 180):
        raise InvalidInput("longitude must be between -180 and 180", field="lng")
    if lat is not None and not (-90 <= lat <= 90):
        raise InvalidInput("latitude must be between -90 and 90", field="lat")
    return resolving.resolver_for(session).resolve(text, lng, lat)
