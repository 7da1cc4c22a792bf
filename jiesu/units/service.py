"""Unit use cases: create the city's units from its places and catalogue, list, edit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, insert, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from jiesu.audit import service as audit
from jiesu.calendar.service import check_known
from jiesu.clock import Clock
from jiesu.errors import Conflict, InvalidInput, PlaceNotFound, UnitNotFound, check_page
from jiesu.permissions import Actor, Permission, require
from jiesu.places import service as places
from jiesu.places.models import Area, AreaLevel
from jiesu.units import catalogue
from jiesu.units.models import Unit, UnitKind

# What a unit's area of responsibility must be, by kind.
AREA_LEVEL_FOR_KIND: dict[UnitKind, set[AreaLevel]] = {
    UnitKind.centre: {AreaLevel.city},
    UnitKind.district_government: {AreaLevel.district},
    UnitKind.street: {AreaLevel.street},
    UnitKind.community: {AreaLevel.community},
    UnitKind.department: {AreaLevel.city},
    UnitKind.department_branch: {AreaLevel.district},
    UnitKind.utility: {AreaLevel.city, AreaLevel.district},
    UnitKind.property_company: {AreaLevel.complex, AreaLevel.community},
}


# Kinds whose whole point is an area: they may not be created without one.
AREA_BOUND_KINDS = frozenset({UnitKind.district_government, UnitKind.street, UnitKind.community,
                              UnitKind.department_branch, UnitKind.property_company})
# Kinds of which an area has exactly one.
ONE_PER_AREA = frozenset({UnitKind.district_government, UnitKind.street, UnitKind.community})


@dataclass
class BootstrapReport:
    created: dict[str, int]
    existing: int

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


def bootstrap(session: Session, actor: Actor) -> BootstrapReport:
    """Create every unit the places and the catalogue imply and that does not exist yet: the centre,
    a government per district, an office per street/township, a committee per community/village,
    the departments with a branch per district, and the utilities. Existing units are left as edited."""
    require(actor, Permission.units_edit)
    city = session.scalar(select(Area).where(Area.level == AreaLevel.city).order_by(Area.code))
    if city is None:
        raise InvalidInput("no places yet: run `jiesu places import` first", field="places")
    have = dict(session.execute(select(Unit.code, Unit.id)).all())
    existing = len(have)
    created: dict[str, int] = {k.value: 0 for k in UnitKind}

    def add(rows: list[dict]) -> None:
        rows = [r for r in rows if r["code"] not in have]
        if not rows:
            return
        session.execute(insert(Unit), rows)
        session.flush()
        codes = [r["code"] for r in rows]
        for i in range(0, len(codes), 500):
            have.update(session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes[i:i + 500]))).all())
        for r in rows:
            created[r["kind"].value] += 1

    def row(code: str, name: str, kind: UnitKind, parent: str | None, area_id: int | None,
            key: str | None = None) -> dict:
        return {"code": code, "name": name, "kind": kind, "parent_id": have.get(parent) if parent else None,
                "area_id": area_id, "department_key": key, "calendar": "default", "phone": None, "active": True}

    add([row(catalogue.CENTRE_CODE, catalogue.CENTRE_NAME, UnitKind.centre, None, city.id)])
    districts = session.execute(select(Area.id, Area.code, Area.name).where(Area.level == AreaLevel.district)
                                .order_by(Area.code)).all()
    add([row(code, f"{name}人民政府", UnitKind.district_government, None, area_id)
         for area_id, code, name in districts])
    streets = session.execute(select(Area.id, Area.code, Area.name, Area.district_code)
                              .where(Area.level == AreaLevel.street).order_by(Area.code)).all()
    add([row(code, _street_office_name(name), UnitKind.street, district, area_id)
         for area_id, code, name, district in streets])
    communities = session.execute(select(Area.id, Area.code, Area.name, Area.street_code)
                                  .where(Area.level == AreaLevel.community).order_by(Area.code)).all()
    add([row(code, name, UnitKind.community, street, area_id) for area_id, code, name, street in communities])
    add([row(d.key, d.name, UnitKind.department, None, city.id, d.key) for d in catalogue.DEPARTMENTS])
    add([row(f"{d.key}-{code[:6]}", d.branch.format(district=name), UnitKind.department_branch, d.key,
             area_id, d.key)
         for d in catalogue.DEPARTMENTS if d.branch for area_id, code, name in districts])
    add([row(u.key, u.name, UnitKind.utility, None, city.id, u.key) for u in catalogue.UTILITIES])
    return BootstrapReport(created=created, existing=existing)


def _street_office_name(name: str) -> str:
    # 观音寺街道 -> 观音寺街道办事处, 兴寿镇 -> 兴寿镇人民政府, 南磨房地区 -> 南磨房地区办事处
    if name.endswith(("街道", "地区")):
        return name + "办事处"
    if name.endswith(("镇", "乡")):
        return name + "人民政府"
    return name + "管理委员会" if not name.endswith("委员会") else name


def get(session: Session, actor: Actor, code: str) -> Unit:
    require(actor, Permission.units_read)
    return by_code(session, code)


# What a unit is shown with (UnitOut, the pages, the CLI): its parent and its area, joined (lazy="raise").
SHOWN = (joinedload(Unit.parent), joinedload(Unit.area))


def by_code(session: Session, code: str) -> Unit:
    """The unit with this code, for the services below the use cases (a workflow step naming a unit, a filter):
    no actor, no permission to check."""
    unit = session.scalar(select(Unit).where(Unit.code == code).options(*SHOWN))
    if unit is None:
        raise UnitNotFound(f"no unit with code {code}", field="code")
    return unit


def list_units(session: Session, actor: Actor, *, kind: UnitKind | None = None, district_code: str | None = None,
               parent_code: str | None = None, q: str | None = None, active: bool | None = None,
               limit: int = 50, offset: int = 0, search: str | None = None) -> tuple[list[Unit], int]:
    """Units, by kind and code. `q`: a name fragment or an exact code. `search` (a picker's typing): every word
    of it matches the unit's name, the start of its code, or the name of its district (大兴 公安 finds 大兴区公安分局);
    the closest names first."""
    require(actor, Permission.units_read)
    check_page(limit, offset)
    stmt = select(Unit)
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if active is not None:
        stmt = stmt.where(Unit.active.is_(active))
    if district_code:
        area = aliased(Area)
        stmt = stmt.join(area, Unit.area_id == area.id).where(area.district_code == district_code)
    if parent_code:
        try:
            parent = get(session, actor, parent_code)
        except UnitNotFound as exc:
            raise InvalidInput(str(exc), field="parent_code") from exc
        stmt = stmt.where(Unit.parent_id == parent.id)
    if q:
        stmt = stmt.where(or_(Unit.name.contains(q, autoescape=True), Unit.code == q))
    order = [Unit.kind, Unit.code]
    words = (search or "").split()[:5]
    for word in words:
        districts = select(Area.district_code).where(Area.level == AreaLevel.district,
                                                     Area.name.contains(word, autoescape=True))
        in_district = select(Area.id).where(Area.district_code.in_(districts))
        stmt = stmt.where(or_(Unit.name.contains(word, autoescape=True), Unit.code.startswith(word, autoescape=True),
                              Unit.area_id.in_(in_district)))
    if words:
        first = words[0]
        order = [case((Unit.code == first, 0), (Unit.name.startswith(first, autoescape=True), 1),
                      (Unit.name.contains(first, autoescape=True), 2), else_=3),
                 case((Unit.name.contains(first, autoescape=True), func.length(Unit.name)), else_=0), Unit.code]
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    units = list(session.scalars(stmt.options(*SHOWN).order_by(*order).limit(limit).offset(offset)))
    return units, total


def snapshot(unit: Unit) -> dict[str, object]:
    """A unit as the audit keeps it."""
    return {"code": unit.code, "name": unit.name, "kind": unit.kind.value,
            "parent": unit.parent.code if unit.parent is not None else None,
            "area": unit.area.code if unit.area is not None else None, "department_key": unit.department_key,
            "phone": unit.phone, "calendar": unit.calendar, "active": unit.active}


def _area(session: Session, actor: Actor, code: str | None, kind: UnitKind) -> Area | None:
    if code is None:
        return None
    try:
        area = places.get(session, actor, code)
    except PlaceNotFound as exc:
        raise InvalidInput(str(exc), field="area_code") from exc
    allowed = AREA_LEVEL_FOR_KIND[kind]
    if area.level not in allowed:
        raise InvalidInput(f"a {kind.value} answers for a {' or '.join(sorted(a.value for a in allowed))}, "
                           f"not for {area.path} ({area.level.value})", field="area_code")
    return area


def _parent(session: Session, actor: Actor, code: str | None, child_code: str | None = None) -> Unit | None:
    if code is None:
        return None
    try:
        parent = get(session, actor, code)
    except UnitNotFound as exc:
        raise InvalidInput(str(exc), field="parent_code") from exc
    node: Unit | None = parent
    while node is not None:  # a unit may not end up below itself
        if child_code is not None and node.code == child_code:
            raise InvalidInput(f"{code} is below {child_code}; that would make a loop", field="parent_code")
        node = session.get(Unit, node.parent_id) if node.parent_id is not None else None
    return parent


def create(session: Session, actor: Actor, *, code: str, name: str, kind: UnitKind,
           parent_code: str | None = None, area_code: str | None = None, department_key: str | None = None,
           phone: str | None = None, clock: Clock | None = None) -> Unit:
    require(actor, Permission.units_edit)
    code, name = code.strip(), name.strip()
    if not code:
        raise InvalidInput("a unit needs a code", field="code")
    if not name:
        raise InvalidInput("a unit needs a name", field="name")
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise Conflict(f"unit {code} exists already", field="code")
    if kind in AREA_BOUND_KINDS and area_code is None:
        raise InvalidInput(f"a {kind.value} needs the area it answers for", field="area_code")
    area = _area(session, actor, area_code, kind)
    if kind in ONE_PER_AREA and area is not None:
        # Routing sends a street's tickets to "the" street office: two would split them.
        other = session.scalar(select(Unit).where(Unit.kind == kind, Unit.area_id == area.id))
        if other is not None:
            raise Conflict(f"{area.path} has its {kind.value} unit already: {other.code} {other.name}",
                           field="area_code")
    if kind in (UnitKind.department, UnitKind.department_branch, UnitKind.utility) and not department_key:
        raise InvalidInput(f"a {kind.value} needs its department key (e.g. cgzf)", field="department_key")
    if kind in (UnitKind.department, UnitKind.utility) and parent_code is None:  # a branch may share its key
        other = session.scalar(select(Unit).where(Unit.kind == kind, Unit.department_key == department_key))
        if other is not None:
            raise Conflict(f"department key {department_key} belongs to {other.code} {other.name}",
                           field="department_key")
    parent = _parent(session, actor, parent_code)
    unit = Unit(code=code, name=name, kind=kind, parent=parent, area=area, department_key=department_key,
                phone=phone, calendar="default", active=True)
    session.add(unit)
    session.flush()
    audit.record(session, actor, "unit", unit.code, "create", None, snapshot(unit),
                 at=clock.now() if clock else None)
    return unit


def update(session: Session, actor: Actor, code: str, *, name: str | None = None, parent_code: str | None = None,
           area_code: str | None = None, phone: str | None = None, active: bool | None = None,
           calendar: str | None = None, clock: Clock | None = None) -> Unit:
    require(actor, Permission.units_edit)
    unit = get(session, actor, code)
    before = snapshot(unit)
    if name is not None:
        if not name.strip():
            raise InvalidInput("a unit needs a name", field="name")
        unit.name = name.strip()
    if parent_code is not None:
        unit.parent = _parent(session, actor, parent_code, child_code=unit.code)
    if area_code is not None:
        unit.area = _area(session, actor, area_code, unit.kind)
    if phone is not None:
        unit.phone = phone or None
    if active is not None:
        unit.active = active
    if calendar is not None:
        check_known(session, calendar or "default")  # a unit cannot work by a calendar nobody has made
        unit.calendar = calendar or "default"
    session.flush()
    after = snapshot(unit)
    if after != before:
        audit.record(session, actor, "unit", unit.code, "edit", before, after, at=clock.now() if clock else None)
    return unit


def register_property_company(session: Session, actor: Actor, *, name: str, community_code: str,
                              complex_name: str, code: str | None = None, phone: str | None = None) -> Unit:
    """A property company for one residential complex: the complex is registered under its community
    (if new) and the company answers for it, below the community's committee."""
    require(actor, Permission.units_edit)
    try:
        places.get(session, actor, community_code)
    except PlaceNotFound as exc:
        raise InvalidInput(f"no community with code {community_code}", field="community_code") from exc
    community_unit = session.scalar(select(Unit.code).where(Unit.code == community_code,
                                                            Unit.kind == UnitKind.community))
    if community_unit is None:  # the company answers to the community committee: it must exist
        raise InvalidInput(f"community {community_code} has no committee unit: run `jiesu units bootstrap`",
                           field="community_code")
    complex_area = places.add_complex(session, actor, community_code, complex_name)
    return create(session, actor, code=code or f"prop-{complex_area.code}", name=name,
                  kind=UnitKind.property_company, parent_code=community_unit, area_code=complex_area.code,
                  phone=phone)


def counts(session: Session, actor: Actor) -> dict[str, int]:
    require(actor, Permission.units_read)
    out = {k.value: 0 for k in UnitKind}
    for kind, n in session.execute(select(Unit.kind, func.count()).group_by(Unit.kind)).all():
        out[kind.value if isinstance(kind, UnitKind) else kind] = n
    return out
