"""Pure rules for place names and polygons: no database, no files."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# How Beijingers shorten the old gate names: 广渠门外南里 is said 广外南里, 德胜门外 is 德外.
# Two gates share one short form (广安门外 and 广渠门外 are both 广外); lookups return both.
GATE_ABBREVIATIONS: dict[str, str] = {}
for _gate, _short in [("安定门", "安"), ("德胜门", "德"), ("东直门", "东"), ("西直门", "西"),
                      ("朝阳门", "朝"), ("阜成门", "阜"), ("复兴门", "复"), ("建国门", "建"),
                      ("广安门", "广"), ("广渠门", "广"), ("崇文门", "崇"), ("宣武门", "宣"),
                      ("永定门", "永"), ("右安门", "右"), ("左安门", "左")]:
    GATE_ABBREVIATIONS[_gate + "外"] = _short + "外"
    GATE_ABBREVIATIONS[_gate + "内"] = _short + "内"

# Suffixes that people leave off, longest first so that 社区居委会 goes before 社区.
COMMUNITY_SUFFIXES = ("社区居委会", "社区居民委员会", "居民委员会", "村民委员会", "居委会", "村委会", "社区", "村")
STREET_SUFFIXES = ("街道办事处", "地区办事处", "街道", "地区", "镇", "乡")
DISTRICT_SUFFIXES = ("区", "县")
MIN_ALIAS_LENGTH = 2


def normalise(text: str) -> str:
    """What a person typed, made comparable: full-width letters and digits to half-width (NFKC),
    spaces collapsed. 'ＢＡ' becomes 'BA', '中国矿业大学(北京)' stays as typed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def spellings(text: str) -> list[str]:
    """The forms a normalised query may take in the gazetteer, which writes brackets full-width:
    中国矿业大学（北京）社区居委会."""
    forms = [text]
    full = text.replace("(", "（").replace(")", "）")
    if full != text:
        forms.append(full)
    return forms


def strip_suffix(name: str, suffixes: Sequence[str]) -> str:
    for s in suffixes:
        if name.endswith(s) and len(name) - len(s) >= MIN_ALIAS_LENGTH:
            return name[: -len(s)]
    return name


# The NBS short names keep committee words in some districts (八里庄北里东社区居民委员会, 小红门村民委员会);
# what a person says, and what a path shows, is the community or the village.
_COMMITTEE_FORMS = (("社区居民委员会", "社区"), ("村村民委员会", "村"), ("居民委员会", "社区"), ("村民委员会", "村"),
                    ("社区居委会", "社区"), ("居委会", "社区"), ("村委会", "村"))


def community_short(short_name: str) -> str:
    for suffix, plain in _COMMITTEE_FORMS:
        if short_name.endswith(suffix) and len(short_name) > len(suffix):
            return short_name[: -len(suffix)] + plain
    return short_name


def abbreviate(name: str) -> str:
    for long, short in GATE_ABBREVIATIONS.items():
        if long in name:
            name = name.replace(long, short)
    return name


def aliases_for(level: str, name: str, short_name: str, formal_name: str | None = None) -> list[str]:
    """Names other than `name` under which people look for this place, in a stable order."""
    suffixes = {"district": DISTRICT_SUFFIXES, "street": STREET_SUFFIXES,
                "community": COMMUNITY_SUFFIXES}.get(level, ())
    base = strip_suffix(short_name or name, suffixes)
    candidates = [short_name, base]
    if formal_name:
        candidates += [formal_name, strip_suffix(formal_name, suffixes)]
    candidates += [abbreviate(c) for c in list(candidates)]
    out: list[str] = []
    for c in candidates:
        if c and c != name and len(c) >= MIN_ALIAS_LENGTH and c not in out:
            out.append(c)
    return out


# --- polygons (GeoJSON coordinates: [lng, lat]) -------------------------------------------------

Ring = Sequence[Sequence[float]]


def _in_ring(lng: float, lat: float, ring: Ring) -> bool:
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lng < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def polygons_of(geometry: dict) -> list[list[Ring]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"unsupported geometry type {geometry['type']}")


def contains(geometry: dict, lng: float, lat: float) -> bool:
    """Even-odd rule per polygon: inside the outer ring and outside every hole."""
    for rings in polygons_of(geometry):
        if rings and _in_ring(lng, lat, rings[0]) and not any(_in_ring(lng, lat, h) for h in rings[1:]):
            return True
    return False


def bbox(geometry: dict) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for rings in polygons_of(geometry):
        for ring in rings:
            for pt in ring:
                xs.append(pt[0])
                ys.append(pt[1])
    return min(xs), min(ys), max(xs), max(ys)


def dedupe(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# --- free text to places: the pure half of jiesu.places.resolve ----------------------------------------

# How much one mention is worth. A full name (香屯村, 兴寿镇, 大兴区) is strong; a name with its suffix
# stripped (香屯, 首座御园二里) is weaker, and a two-character one (二街, 向阳) is often an ordinary word.
STRONG_WEIGHT, WEAK_WEIGHT, SHORT_WEAK_WEIGHT = 1.0, 0.8, 0.5
COORDINATE_WEIGHT = 1.0  # the district holding the caller's point counts like a district named in the text
_LEVEL_SUFFIXES = {"district": DISTRICT_SUFFIXES, "street": STREET_SUFFIXES, "community": COMMUNITY_SUFFIXES}


def scan_key(text: str) -> str:
    """Text as the scanner compares it: NFKC (full-width brackets and digits to half-width), no spaces,
    so that 中国矿业大学（北京） in the gazetteer and 中国矿业大学(北京) typed by a citizen meet."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def name_weight(level: str, name: str, official: bool) -> float:
    """The weight of a mention of `name` for a place of `level`; `official` when it is the place's own
    name, short name or formal name rather than a generated alias."""
    if level in ("district", "complex") or official or name.endswith(_LEVEL_SUFFIXES.get(level, ())):
        return STRONG_WEIGHT
    return SHORT_WEAK_WEIGHT if len(name) <= 2 else WEAK_WEIGHT


@dataclass(frozen=True)
class PlaceRef:
    """A place as the resolver sees it: its code and the codes from its district down to itself."""

    code: str
    level: str
    path: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    """One name found in the text, at [start, end) of its scan key, with every place it may name."""

    start: int
    end: int
    text: str
    places: tuple[tuple[PlaceRef, float], ...]


class NameTable:
    """Every name and alias in a dict of prefixes: a scan walks forward from each position only while
    the text so far is the beginning of some name, so it costs about the text's length times the
    length of the names found, whatever the size of the gazetteer."""

    def __init__(self) -> None:
        # prefix -> None while it is only the start of longer names; -> {place code: (ref, weight)} for a name
        self._table: dict[str, dict[str, tuple[PlaceRef, float]] | None] = {}

    def __len__(self) -> int:
        return sum(1 for v in self._table.values() if v is not None)

    def add(self, name: str, place: PlaceRef, weight: float) -> None:
        key = scan_key(name)
        if len(key) < MIN_ALIAS_LENGTH:
            return
        for k in range(1, len(key)):
            self._table.setdefault(key[:k], None)
        entry = self._table.get(key)
        if entry is None:
            entry = self._table[key] = {}
        old = entry.get(place.code)
        if old is None or old[1] < weight:
            entry[place.code] = (place, weight)

    def lookup(self, name: str) -> list[tuple[PlaceRef, float]]:
        return list((self._table.get(scan_key(name)) or {}).values())

    def scan(self, key: str) -> list[Hit]:
        """Every name occurring in `key` (already a scan key), then only the longest: a hit inside a
        longer one is dropped, so 首座御园二里 is not also 二里, and 朝阳门 is not 朝阳(区)."""
        hits: list[Hit] = []
        table = self._table
        n = len(key)
        for i in range(n):
            for j in range(i + 1, n + 1):
                s = key[i:j]
                if s not in table:
                    break
                entry = table[s]
                if entry:
                    hits.append(Hit(i, j, s, tuple(entry.values())))
        return longest_hits(hits)


def _inside(h: Hit, o: Hit) -> bool:
    return o.start <= h.start and h.end <= o.end and (o.end - o.start) > (h.end - h.start)


def _overlap(a: Hit, b: Hit) -> bool:
    return a.start < b.end and b.start < a.end


def longest_hits(hits: Sequence[Hit]) -> list[Hit]:
    """Drop every hit lying inside a longer one; overlapping hits that are not nested are both kept
    (combine() lets a character count for one of them only). A hit inside a longer one comes back
    when that longer one is contested by a neighbour it stays clear of: in 门头沟北村, 沟北村 overlaps
    门头沟, so 北村 is a reading too."""
    kept = [h for h in hits if not any(_inside(h, o) for o in hits)]
    back = []
    for h in hits:
        holders = [o for o in kept if _inside(h, o)]
        if holders and all(any(o is not k and _overlap(o, k) and not _inside(k, o) and not _overlap(h, k)
                                for k in kept) for o in holders):
            back.append(h)
    back = [h for h in back if not any(_inside(h, o) for o in back)]
    return sorted(kept + back, key=lambda h: (h.start, h.end))


@dataclass(frozen=True)
class Candidate:
    path: tuple[str, ...]  # district, street, community, complex codes, as deep as known
    score: float


@dataclass(frozen=True)
class Combination:
    best: tuple[str, ...]  # the deepest path all the top candidates share (all of it when not ambiguous)
    ambiguous: bool
    top: tuple[Candidate, ...]  # every candidate with the top score, by code
    runner_up: float  # the best score below the top: how close the nearest other reading came
    confidence: float


def hit_weight(hit: Hit) -> float:
    return max((w for _, w in hit.places), default=0.0)


def _supports(place: PlaceRef, path: tuple[str, ...]) -> bool:
    return path[:len(place.path)] == place.path


def combine(hits: Sequence[Hit], located_district: str | None = None) -> Combination:
    """Read the hits as one address. Each place a hit may name proposes its path; a path scores the
    weight of every hit that names a place on it (a district mention supports its streets and
    communities, a street mention its communities) plus the caller's district from coordinates.
    A path that is the prefix of another one proposed is dropped (the deeper reading carries the
    same support). Several top paths are an ambiguity, reported with all of them, never a guess."""
    proposed: set[tuple[str, ...]] = {p.path for h in hits for p, _ in h.places}
    if located_district:
        proposed.add((located_district,))
    if not proposed:
        return Combination(best=(), ambiguous=False, top=(), runner_up=0.0, confidence=0.0)
    prefixes = {path[:k] for path in proposed for k in range(1, len(path))}
    leaves = [path for path in proposed if path not in prefixes]

    def score(path: tuple[str, ...]) -> float:
        # A hit counts once, at its strongest weight, for every place it names: the weights rank
        # mentions against each other, never the places one mention may name (三间房 is the 地区 and a 村).
        # A character belongs to one name only: of overlapping hits the stronger, then longer, counts
        # (密云北台 is 密云 + 北台, not also 云北).
        taken: list[Hit] = []
        for h in sorted((h for h in hits if any(_supports(p, path) for p, _ in h.places)),
                        key=lambda h: (-hit_weight(h), h.start - h.end, h.start)):
            if all(h.end <= t.start or t.end <= h.start for t in taken):
                taken.append(h)
        s = sum(hit_weight(h) for h in taken)
        if located_district and path[0] == located_district:
            s += COORDINATE_WEIGHT
        return round(s, 6)

    scored = sorted((Candidate(path, score(path)) for path in leaves), key=lambda c: (-c.score, c.path))
    best_score = scored[0].score
    top = tuple(c for c in scored if c.score == best_score)
    runner_up = next((c.score for c in scored if c.score < best_score), 0.0)
    common = top[0].path
    for c in top[1:]:
        k = 0
        while k < min(len(common), len(c.path)) and common[k] == c.path[k]:
            k += 1
        common = common[:k]
    return Combination(best=common, ambiguous=len(top) > 1, top=top, runner_up=runner_up,
                       confidence=confidence(best_score, runner_up, len(top)))


def confidence(score: float, runner_up: float, tied: int) -> float:
    """In [0, 1]: grows with the support of the best reading (one full name 0.7, a district and a
    community 0.91), shrinks as another reading comes close, and is shared when readings tie."""
    if score <= 0:
        return 0.0
    c = (1 - 0.3 ** score) * (1 - 0.3 * runner_up / score) / tied
    return round(max(0.0, min(0.99, c)), 3)
