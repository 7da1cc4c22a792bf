"""`jiesu places ...`: the gazetteer (districts, streets/townships, communities/villages): import it, find,
show, alias and locate places, and resolve free text to its district, street and community.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from jiesu.permissions import SYSTEM
from jiesu.places import service as places_service
from jiesu.places.models import AreaLevel
from jiesu.places.resolve import MAX_TEXT_LENGTH
from jiesu.shell import console, err, fail, progress_bar, session_scope

places_app = typer.Typer(help="Places: districts, streets/townships, communities.", no_args_is_help=True)


@places_app.command("import")
def places_import(
    source: Annotated[Path | None, typer.Argument(help="folder with districts.csv, streets.csv, communities.csv "
                                                       "[districts.geojson]; default: Beijing, shipped")] = None,
    city: Annotated[str | None, typer.Option(help="the city's name (needed for a city other than Beijing)")] = None,
) -> None:
    """Import (or refresh) the gazetteer: districts, streets/townships, communities/villages, boundaries."""
    with session_scope() as session, progress_bar() as update:
        report = places_service.import_gazetteer(session, SYSTEM, source.resolve() if source else None,
                                                 city_name=city, progress=update)
    console.print(f"{report.city}: {report.districts} districts, {report.streets} streets/townships, "
                  f"{report.communities} communities/villages, {report.aliases} aliases, "
                  f"{report.boundaries} boundaries ({report.inserted} new, {report.updated} refreshed)")


@places_app.command("find")
def places_find(
    name: Annotated[str, typer.Argument(help="a name, short name or alias, e.g. 观音寺, 八里庄, 广外南里")],
    level: Annotated[AreaLevel | None, typer.Option(help="only this level")] = None,
    district: Annotated[str | None, typer.Option(help="only this district: its code or name (海淀区, 海淀)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Every place whose name contains NAME, with its full path: ambiguous names show all their places."""
    with session_scope() as session:
        district_code = _district_code(session, district) if district else None
        found = places_service.find(session, SYSTEM, name, level=level, district_code=district_code, limit=limit)
        matches, total = found.matches, found.total
        rows = [{"code": m.area.code, "name": m.area.name, "level": m.area.level.value, "kind": m.area.kind,
                 "path": m.area.path, "matched": m.matched, "exact": m.exact} for m in matches]
    if as_json:
        console.print_json(json.dumps({"query": name, "total": total, "ambiguous": found.ambiguous, "matches": rows},
                                      ensure_ascii=False))
        return
    if not rows:
        raise fail(f"no place matches {name!r}")
    title = f"{name}: {total} match(es)" + (f", first {len(rows)}" if total > len(rows) else "")
    if found.ambiguous:
        title += f"; {found.exact} places are named exactly so (*): say which district"
    table = Table(title=title)
    table.add_column("code", no_wrap=True)
    table.add_column("path", overflow="fold", ratio=3)  # the path tells ambiguous names apart: never cut it
    table.add_column("kind", no_wrap=True)
    table.add_column("matched", overflow="fold", ratio=1)
    for r in rows:
        table.add_row(r["code"], r["path"], r["kind"], r["matched"] + (" *" if r["exact"] else ""))
    console.print(table)


def _district_code(session: Session, text: str) -> str:
    if text.isdigit():
        return text
    districts = [m.area for m in places_service.find(session, SYSTEM, text, level=AreaLevel.district).matches
                 if m.exact]
    if len(districts) != 1:
        raise fail(f"{text!r} names no district (try 海淀区 or its code 110108000000)", 2)
    return districts[0].code


@places_app.command("show")
def places_show(code: str) -> None:
    """One place with its aliases and children."""
    with session_scope() as session:
        area = places_service.get(session, SYSTEM, code)
        aliases = [a.alias for a in places_service.aliases_of(session, SYSTEM, code)]
        kids = places_service.children(session, SYSTEM, code)
        console.print(f"[bold]{area.name}[/] {area.code} ({area.level.value}, {area.kind})\n{area.path}")
        if area.formal_name:
            console.print(f"formal name: {area.formal_name}")
        console.print(f"aliases: {', '.join(aliases) or '-'}")
        console.print(f"children: {len(kids)}" + (": " + ", ".join(k.short_name for k in kids[:30]) if kids else "")
                      + (" ..." if len(kids) > 30 else ""))


@places_app.command("stats")
def places_stats() -> None:
    """How many places of each level."""
    with session_scope() as session:
        for level, n in places_service.counts(session, SYSTEM).items():
            console.print(f"{level:10} {n}")


@places_app.command("alias")
def places_alias(code: str, alias: str) -> None:
    """Add a name people use for a place (kept across re-imports)."""
    with session_scope() as session:
        places_service.add_alias(session, SYSTEM, code, alias)
        console.print(f"{alias} -> {places_service.get(session, SYSTEM, code).path}")


@places_app.command("locate")
def places_locate(lng: float, lat: float) -> None:
    """The district that holds a point (GCJ-02 longitude and latitude, as the shipped boundaries)."""
    with session_scope() as session:
        area = places_service.locate(session, SYSTEM, lng, lat)
        if area is None:
            raise fail(f"({lng}, {lat}) is in no district")
        console.print(f"{area.code} {area.path}")


RESOLVE_COLUMNS = ["district_code", "street_code", "community_code", "confidence", "ambiguous"]


@places_app.command("resolve")
def places_resolve(
    text: Annotated[str | None, typer.Argument(help="an address or message, e.g. 大兴区首座御园二里5号楼")] = None,
    input_csv: Annotated[Path | None, typer.Option("--input", help="a UTF-8 CSV with a `text` column")] = None,
    output_csv: Annotated[Path | None, typer.Option("--output", help="where to write the CSV with the "
                                                                     "resolved columns appended")] = None,
    lng: Annotated[float | None, typer.Option(help="GCJ-02 longitude (with --lat)")] = None,
    lat: Annotated[float | None, typer.Option(help="GCJ-02 latitude (with --lng)")] = None,
) -> None:
    """District -> street/township -> community read from free text, as JSON on stdout; or, with
    --input/--output, a CSV with district_code, street_code, community_code, confidence, ambiguous appended."""
    from jiesu.places.schemas import ResolutionOut  # pydantic models: built by the commands that print them

    if text is not None and input_csv is not None:
        raise fail("give either a text or --input FILE.csv, not both", 2)
    if input_csv is None:
        if text is None:
            raise fail("give a text to resolve, or --input FILE.csv --output OUT.csv", 2)
        with session_scope() as session:
            found = places_service.resolve(session, SYSTEM, text, lng, lat)
            out = ResolutionOut.model_validate(found).model_dump(mode="json")
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if output_csv is None:
        raise fail("--input needs --output OUT.csv", 2)
    header, rows = _read_text_csv(input_csv)
    column = header.index("text")
    counts = {"rows": 0, "ambiguous": 0, "unknown": 0}
    with session_scope() as session:
        out_rows = []
        for row in rows:
            value = (row[column] if column < len(row) else "").strip()
            found = places_service.resolve(session, SYSTEM, value[:MAX_TEXT_LENGTH]) if value else None
            counts["rows"] += 1
            counts["ambiguous"] += bool(found and found.ambiguous)
            counts["unknown"] += found is None or found.best is None
            out_rows.append(row + ([found.district_code or "", found.street_code or "", found.community_code or "",
                                    f"{found.confidence:.3f}", "true" if found.ambiguous else "false"]
                                   if found else ["", "", "", "0.000", "false"]))
    try:
        with open(output_csv, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header + RESOLVE_COLUMNS)
            writer.writerows(out_rows)
    except OSError as exc:
        raise fail(f"cannot write {output_csv}: {exc.strerror}") from None
    err.print(f"{counts['rows']} rows resolved, {counts['ambiguous']} ambiguous, {counts['unknown']} unknown "
              f"-> {output_csv}")


def _read_text_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a UTF-8 CSV (a BOM, as Excel writes, is dropped) that has a `text` column."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = list(reader)
    except FileNotFoundError:
        raise fail(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise fail(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from None
    except (OSError, csv.Error) as exc:
        raise fail(f"cannot read {path}: {exc}") from None
    if not header or "text" not in header:
        raise fail(f"{path}: no `text` column (columns: {', '.join(header or []) or 'none'})")
    return header, rows
