"""Pure rules for place names and polygons: no database, no files."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

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
