"""A test set of addresses built from the gazetteer itself, and how well the resolver reads it.

`generate(session)` writes, deterministically (seeded), the ways citizens name a community or a
village: alone, after its district, after its street, without its 社区/村 suffix, with building
numbers, with the gate abbreviations (广外南里), as a 小区, inside a complaint. Each item carries the
street that must come out and whether the text alone is ambiguous (some other place, in another
street, answers to the same words: computed from the gazetteer's names and aliases, not from the
resolver). `evaluate(session)` resolves them all; `place_report(session)` prints the figures.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.places import rules
from jiesu.places.models import Area, AreaAlias, AreaLevel
from jiesu.places.resolve import Resolver, resolver_for

SEED = 12345
PER_FORM = 150
FORMS = ("name", "district+name", "street+name", "district+street+name", "short", "district+short",
         "building", "abbreviation", "complex", "message")
_COMPLAINTS = ("楼下饭馆油烟扰民", "小区门口停车难", "路灯不亮好几天了", "垃圾一直没人清运", "夜间施工噪音很大",
               "暖气不热", "楼道堆放杂物", "有人群租")


@dataclass(frozen=True)
class AddressCase:
    text: str
    form: str
    street_code: str  # the street/township that must come out
    community_code: str
    ambiguous: bool  # the text alone fits places in more than one street: it must be flagged


@dataclass
class FormStats:
    items: int = 0
    unambiguous: int = 0
    right: int = 0
    ambiguous: int = 0
    flagged: int = 0
    wrong: int = 0


@dataclass
class PlaceEvaluation:
    items: int
    unambiguous: int
    right_street: int
    ambiguous: int
    flagged: int
    wrong_guesses: int  # a street given that is not the one (or one picked among several that fit)
    per_form: dict[str, FormStats] = field(default_factory=dict)
    mean_ms: float = 0.0
    p95_ms: float = 0.0
    build_ms: float = 0.0
    failures: list[tuple[AddressCase, str]] = field(default_factory=list)  # (case, what came out)

    @property
    def right_street_rate(self) -> float:
        return self.right_street / self.unambiguous if self.unambiguous else 0.0

    @property
    def flagged_rate(self) -> float:
        return self.flagged / self.ambiguous if self.ambiguous else 0.0


@dataclass(frozen=True)
class _Place:
    code: str
    level: str
    district: str
    street: str | None
    community: str | None
    name: str
    short_name: str


class Gazetteer:
    """The gazetteer's names, read once: which places answer to a string."""

    def __init__(self, session: Session) -> None:
        rows = session.scalars(select(Area).where(Area.level != AreaLevel.city)).all()
        by_id = {a.id: a for a in rows}
        self.places: dict[str, _Place] = {}
        self.named: dict[str, set[str]] = defaultdict(set)
        for a in rows:
            level = a.level.value
            community = a.code if level == "community" else (by_id[a.parent_id].code if level == "complex" else None)
            self.places[a.code] = _Place(a.code, level, a.district_code or "", a.street_code, community, a.name,
                                         a.short_name)
            for n in (a.name, a.short_name, a.formal_name):
                if n:
                    self.named[rules.scan_key(n)].add(a.code)
        for area_id, alias in session.execute(select(AreaAlias.area_id, AreaAlias.alias)):
            if area_id in by_id:
                self.named[rules.scan_key(alias)].add(by_id[area_id].code)
        self.districts = {c: p for c, p in self.places.items() if p.level == "district"}
        self.streets = {c: p for c, p in self.places.items() if p.level == "street"}
        self.communities = sorted(c for c, p in self.places.items() if p.level == "community")
        self.complexes = sorted(c for c, p in self.places.items() if p.level == "complex")

    def ambiguous(self, words: str, district: str | None, street: str | None) -> bool:
        """Whether `words` (with the district and street the text names, if any) fit places in
        more than one street. A place that is the parent of another candidate is the same reading."""
        found = [self.places[c] for c in self.named.get(rules.scan_key(words), ())]
        if district:
            found = [p for p in found if p.district == district]
        if street:
            found = [p for p in found if p.street == street]
        keys = {p.street or "d" + p.district for p in found}
        # 观音寺 names the street and its 观音寺社区: one street, one reading
        keys -= {"d" + p.district for p in found if p.street is not None}
        return len(keys) > 1

    def street_named_once(self, street: _Place, district: str | None) -> bool:
        """Whether the street's name, in its district if given, names only this street."""
        others = [self.places[c] for c in self.named.get(rules.scan_key(street.name), ())
                  if self.places[c].level == "street" and self.places[c].code != street.code]
        return not [p for p in others if district is None or p.district == district]


def _base(short_name: str) -> str:
    return rules.strip_suffix(short_name, rules.COMMUNITY_SUFFIXES)


def _building(rng: random.Random) -> str:
    return rng.choice([f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元", f"{rng.randint(1, 30)}号楼",
                       f"{rng.randint(1, 99)}号院{rng.randint(1, 20)}号楼{rng.randint(101, 2405)}"])


def generate(session: Session, *, seed: int = SEED, per_form: int = PER_FORM) -> list[AddressCase]:
    """The test set: `per_form` addresses of each form, the same for the same gazetteer and seed."""
    g = Gazetteer(session)
    rng = random.Random(seed)
    cases: list[AddressCase] = []

    def add(text: str, form: str, community: _Place, words: str, district: str | None = None,
            street: str | None = None) -> None:
        cases.append(AddressCase(text=text, form=form, street_code=community.street or "",
                                 community_code=community.community or community.code,
                                 ambiguous=g.ambiguous(words, district, street)))

    def district_name(p: _Place) -> str:
        d = g.districts[p.district]
        return rng.choice([d.name, d.name, d.short_name])  # 大兴区 mostly, 大兴 sometimes

    for form in FORMS:
        pool = g.communities
        if form == "abbreviation":  # 广外南里, or 广外街道 for 广安门外街道 before a community's name
            pool = [c for c in g.communities if rules.abbreviate(g.places[c].short_name) != g.places[c].short_name
                    or rules.abbreviate(g.streets[g.places[c].street or ""].name) != g.streets[g.places[c].street
                                                                                              or ""].name]
        picks = rng.sample(pool, min(per_form, len(pool)))
        for code in picks:
            c = g.places[code]
            street = g.streets[c.street or ""]
            base = _base(c.short_name)
            if form == "name":
                add(c.short_name, form, c, c.short_name)
            elif form == "district+name":
                add(district_name(c) + c.short_name, form, c, c.short_name, c.district)
            elif form == "street+name":
                # a street name that is itself ambiguous (八里庄街道) constrains no single street
                s = street.code if g.street_named_once(street, None) else None
                add(street.name + c.short_name, form, c, c.short_name, None, s)
            elif form == "district+street+name":
                s = street.code if g.street_named_once(street, c.district) else None
                add(district_name(c) + street.name + c.short_name, form, c, c.short_name, c.district, s)
            elif form == "short":
                add(base, form, c, base)
            elif form == "district+short":
                add(district_name(c) + base, form, c, base, c.district)
            elif form == "building":
                add(district_name(c) + base + _building(rng), form, c, base, c.district)
            elif form == "abbreviation":
                short = rules.abbreviate(base)
                if short == base:
                    words = rules.abbreviate(street.name)
                    s = street.code if g.street_named_once(street, None) else None
                    add(words + c.short_name, form, c, c.short_name, None, s)
                elif rng.random() < 0.5:
                    add(short + _building(rng), form, c, short)
                else:
                    add(district_name(c) + short, form, c, short, c.district)
            elif form == "complex":
                add(district_name(c) + base + "小区" + _building(rng), form, c, base, c.district)
            elif form == "message":
                add(f"您好，我是{district_name(c)}{base}{_building(rng)}的住户，{rng.choice(_COMPLAINTS)}，"
                    "希望尽快处理。", form, c, base, c.district)
    # complexes an administrator registered (首座御园 under its 社区) are read like their community
    for code in g.complexes[:per_form]:
        x = g.places[code]
        add(x.name + _building(rng), "complex", x, x.name)
    return cases


def evaluate(session: Session, *, seed: int = SEED, per_form: int = PER_FORM,
             resolver: Resolver | None = None) -> PlaceEvaluation:
    """Resolve the test set: the right-street rate on the unambiguous items, the flagged rate on the
    ambiguous ones (flagged with the right place among the alternatives), and the wrong guesses."""
    t0 = time.perf_counter()
    resolver = resolver or resolver_for(session)
    build_ms = (time.perf_counter() - t0) * 1000
    cases = generate(session, seed=seed, per_form=per_form)
    per_form_stats: dict[str, FormStats] = {f: FormStats() for f in FORMS}
    out = PlaceEvaluation(items=0, unambiguous=0, right_street=0, ambiguous=0, flagged=0, wrong_guesses=0,
                          per_form=per_form_stats, build_ms=build_ms)
    timings = []
    for case in cases:
        t = time.perf_counter()
        r = resolver.resolve(case.text)
        timings.append((time.perf_counter() - t) * 1000)
        stats = per_form_stats[case.form]
        stats.items += 1
        out.items += 1
        wrong = r.street_code is not None and r.street_code != case.street_code
        if case.ambiguous:
            stats.ambiguous += 1
            out.ambiguous += 1
            flagged = r.ambiguous and any(a.street_code == case.street_code for a in r.alternatives)
            wrong = wrong or not r.ambiguous and r.street_code is not None  # picked one: a guess
            if flagged:
                stats.flagged += 1
                out.flagged += 1
        else:
            stats.unambiguous += 1
            out.unambiguous += 1
            if r.street_code == case.street_code:
                stats.right += 1
                out.right_street += 1
        if wrong:
            stats.wrong += 1
            out.wrong_guesses += 1
        if wrong or (not case.ambiguous and r.street_code != case.street_code) or (case.ambiguous and not r.ambiguous):
            got = r.best.path if r.best else "nothing"
            out.failures.append((case, f"{got}{' (ambiguous)' if r.ambiguous else ''}"))
    if timings:
        out.mean_ms = statistics.fmean(timings)
        out.p95_ms = sorted(timings)[int(len(timings) * 0.95) - 1]
    return out


def place_report(session: Session, *, seed: int = SEED, per_form: int = PER_FORM) -> list[str]:
    """The lines the routing benchmark prints about reading places from text."""
    e = evaluate(session, seed=seed, per_form=per_form)
    lines = [f"place resolution: {e.items} addresses from the gazetteer (seed {seed}), index built in "
             f"{e.build_ms:.0f} ms, {e.mean_ms:.2f} ms per text (p95 {e.p95_ms:.2f} ms)",
             f"  right street on unambiguous: {e.right_street}/{e.unambiguous} = {e.right_street_rate:.1%}",
             f"  flagged on ambiguous:        {e.flagged}/{e.ambiguous} = {e.flagged_rate:.1%}",
             f"  wrong guesses:               {e.wrong_guesses}",
             f"  {'form':22} {'items':>5} {'right':>11} {'flagged':>11} {'wrong':>5}"]
    for form, s in e.per_form.items():
        if s.items:
            lines.append(f"  {form:22} {s.items:5} {s.right:5}/{s.unambiguous:<5} {s.flagged:5}/{s.ambiguous:<5} "
                         f"{s.wrong:5}")
    return lines
