"""Free text to places: 大兴区首座御园二里5号楼 -> 大兴区 / 观音寺街道 / 首座御园二里社区, with a confidence
and, when the text does not say which of several places it means, all of them.

The index (every name and alias, the tree, the district polygons) is built once from the database
and cached per database; it is rebuilt when places or aliases change (their counts and highest ids
are checked on each call, and the service calls `reset()` after an import or an edit).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jiesu.places import rules
from jiesu.places.models import Area, AreaAlias, AreaBoundary, AreaLevel

MAX_TEXT_LENGTH = 1000
_LEVELS = ("district", "street", "community", "complex")


@dataclass(frozen=True)
class Node:
    code: str
    name: str
    short_name: str
    level: str
    path: str  # 北京市/大兴区/观音寺街道/首座御园二里社区
    ref: rules.PlaceRef


@dataclass
class ResolvedPlace:
    """One reading of the text, from the district down to the deepest level it reaches."""

    level: str  # district, street, community or complex
    code: str
    name: str
    path: str
    district_code: str | None = None
    district_name: str | None = None
    street_code: str | None = None
    street_name: str | None = None
    community_code: str | None = None
    community_name: str | None = None
    complex_code: str | None = None
    complex_name: str | None = None
    score: float = 0.0


@dataclass
class Reason:
    """A piece of the text and a place it names."""

    text: str  # the substring, as scanned (NFKC, no spaces)
    start: int
    end: int
    code: str
    level: str
    path: str
    weight: float
    used: bool  # whether the best reading goes through this place


@dataclass
class Resolution:
    text: str
    best: ResolvedPlace | None  # what all the top readings agree on; None when they agree on nothing
    confidence: float
    ambiguous: bool
    alternatives: list[ResolvedPlace]  # every top reading when ambiguous, else empty
    reasons: list[Reason] = field(default_factory=list)
    located_district_code: str | None = None  # from coordinates, when given and inside a district

    @property
    def level(self) -> str | None:
        return self.best.level if self.best else None

    @property
    def district_code(self) -> str | None:
        return self.best.district_code if self.best else None

    @property
    def street_code(self) -> str | None:
        return self.best.street_code if self.best else None

    @property
    def community_code(self) -> str | None:
        return self.best.community_code if self.best else None


@dataclass
class _Boundary:
    district_code: str
    bbox: tuple[float, float, float, float]
    geometry: dict


class Resolver:
    """The in-memory index of one database's places. Build it with `Resolver.load(session)`."""

    def __init__(self, nodes: dict[str, Node], table: rules.NameTable, boundaries: list[_Boundary]) -> None:
        self.nodes = nodes
        self.table = table
        self.boundaries = boundaries

    @classmethod
    def load(cls, session: Session) -> Resolver:
        rows = session.execute(select(Area.id, Area.code, Area.name, Area.short_name, Area.formal_name, Area.level,
                                      Area.parent_id, Area.path)).all()
        by_id = {r.id: r for r in rows}
        nodes: dict[str, Node] = {}
        refs: dict[int, rules.PlaceRef] = {}

        def ref_of(area_id: int) -> rules.PlaceRef | None:
            if area_id in refs:
                return refs[area_id]
            r = by_id[area_id]
            level = r.level.value if isinstance(r.level, AreaLevel) else str(r.level)
            if level not in _LEVELS:
                return None  # the city is not a reading: every text is in it
            parent = ref_of(r.parent_id) if r.parent_id in by_id else None
            ref = rules.PlaceRef(code=r.code, level=level, path=(parent.path if parent else ()) + (r.code,))
            refs[area_id] = ref
            return ref

        table = rules.NameTable()
        for r in rows:
            ref = ref_of(r.id)
            if ref is None:
                continue
            nodes[r.code] = Node(code=r.code, name=r.name, short_name=r.short_name, level=ref.level, path=r.path,
                                 ref=ref)
            for name in (r.name, r.short_name, r.formal_name):
                if name:
                    table.add(name, ref, rules.name_weight(ref.level, name, official=True))
        for area_id, alias in session.execute(select(AreaAlias.area_id, AreaAlias.alias)):
            ref = refs.get(area_id)
            if ref is not None:
                table.add(alias, ref, rules.name_weight(ref.level, alias, official=False))
        boundaries = []
        codes = {r.id: r.code for r in rows}
        for b in session.scalars(select(AreaBoundary)):
            if b.area_id in codes:
                boundaries.append(_Boundary(codes[b.area_id], (b.min_lng, b.min_lat, b.max_lng, b.max_lat),
                                            json.loads(b.geojson)))
        return cls(nodes, table, boundaries)

    def locate(self, lng: float, lat: float) -> str | None:
        for b in self.boundaries:
            x0, y0, x1, y1 = b.bbox
            if x0 <= lng <= x1 and y0 <= lat <= y1 and rules.contains(b.geometry, lng, lat):
                return b.district_code
        return None

    def resolve(self, text: str, lng: float | None = None, lat: float | None = None) -> Resolution:
        key = rules.scan_key(text)
        hits = self.table.scan(key)
        located = self.locate(lng, lat) if lng is not None and lat is not None else None
        combo = rules.combine(hits, located)
        best = self._place(combo.best, combo.top[0].score if combo.top else 0.0) if combo.best else None
        alternatives = [self._place(c.path, c.score) for c in combo.top] if combo.ambiguous else []
        on_best = set(combo.top[0].path) if combo.top and not combo.ambiguous else set(combo.best)
        reasons = [Reason(text=h.text, start=h.start, end=h.end, code=p.code, level=p.level,
                          path=self.nodes[p.code].path, weight=w, used=p.code in on_best)
                   for h in hits for p, w in sorted(h.places, key=lambda pw: pw[0].code)]
        return Resolution(text=text, best=best, confidence=combo.confidence, ambiguous=combo.ambiguous,
                          alternatives=alternatives, reasons=reasons, located_district_code=located)

    def _place(self, path: tuple[str, ...], score: float) -> ResolvedPlace:
        leaf = self.nodes[path[-1]]
        out = ResolvedPlace(level=leaf.level, code=leaf.code, name=leaf.name, path=leaf.path, score=score)
        for code in path:
            node = self.nodes[code]
            setattr(out, f"{node.level}_code", node.code)
            setattr(out, f"{node.level}_name", node.short_name if node.level == "community" else node.name)
        return out


# --- the cache -------------------------------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[tuple, Resolver] = {}
_generation = 0
_CACHE_SIZE = 4  # a few databases per process at most (the tests use two)


def reset() -> None:
    """Forget every index: the next resolution rebuilds from the database. Called after edits."""
    global _generation
    with _lock:
        _generation += 1
        _cache.clear()


def _stamp(session: Session) -> tuple:
    parts = [select(agg(col)).scalar_subquery() for col in (Area.id, AreaAlias.id, AreaBoundary.id)
             for agg in (func.count, func.max)]
    return tuple(session.execute(select(*parts)).one())


def resolver_for(session: Session) -> Resolver:
    """The index for the session's database, built on first use and whenever its places changed."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    key = (str(engine.url), _generation, _stamp(session))
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    built = Resolver.load(session)
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = built
    return built
