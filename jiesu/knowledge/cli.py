"""`jiesu knowledge ...`: search the knowledge base, import articles from CSV, propose articles from units'
repeated replies, seed the demo's articles, rebuild the index, expire what is out of date.

As everywhere in `jiesu` (jiesu/shell.py) the shell acts as the administrator; errors are one red line
and exit code 1.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from jiesu.clock import Clock, SystemClock
from jiesu.config import get_settings
from jiesu.data import read_csv
from jiesu.errors import DataSourceError
from jiesu.knowledge import service as kb
from jiesu.knowledge.models import Article
from jiesu.permissions import ANONYMOUS, SYSTEM
from jiesu.shell import console, err, session_scope

knowledge_app = typer.Typer(help="The knowledge base (知识库): search, import, proposals from replies, demo articles.",
                            no_args_is_help=True)

IMPORT_COLUMNS = ("question", "answer")  # required; optional: category_code, area_code, valid_from, valid_to,
# unit_code, public


def clock() -> Clock:
    return SystemClock()


@knowledge_app.command("search")
def search(text: Annotated[str, typer.Argument(help="the question, in any words")],
           limit: Annotated[int, typer.Option(min=1, max=kb.MAX_RESULTS)] = 5,
           public: Annotated[bool, typer.Option("--public", help="as a citizen: public articles only")] = False,
           as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The live articles that best answer TEXT, best first."""
    settings = get_settings()
    with session_scope(settings) as session:
        found = kb.search(session, ANONYMOUS if public else SYSTEM, clock(), settings, text, limit=limit)
        if as_json:
            from jiesu.knowledge.schemas import SearchOut  # pydantic models: built by the commands that print them

            typer.echo(SearchOut.of(text, found).model_dump_json(indent=2))
            return
        console.print(f"words asked: {' '.join(found.terms) or '—'}; left out: {' '.join(found.ignored) or '—'}",
                      highlight=False)
        table = Table()
        for col in ("id", "score", "question", "answer", "matched"):
            table.add_column(col, overflow="fold")
        for h in found.hits:
            answer = h.article.answer if len(h.article.answer) <= 80 else h.article.answer[:80] + "…"
            table.add_row(str(h.article.id), f"{h.score:.3f}", escape(h.article.question), escape(answer),
                          " ".join(h.matched))
        console.print(table)


def _date(value: str, line: int, col: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DataSourceError(f"line {line}: {col} is not a date (YYYY-MM-DD): {value!r}", field=col) from None


def read_articles(path: Path) -> list[kb.ArticleInput]:
    """Articles from a UTF-8 CSV: question, answer (required), category_code, area_code, valid_from, valid_to,
    unit_code, public (1/0, true/false; default public)."""
    rows = read_csv(path, required=IMPORT_COLUMNS)
    out = []
    for i, r in enumerate(rows, start=2):
        public = (r.get("public") or "1").strip().lower() not in ("0", "false", "no", "否", "n")
        out.append(kb.ArticleInput(question=r["question"], answer=r["answer"],
                                   category_code=(r.get("category_code") or "").strip() or None,
                                   area_code=(r.get("area_code") or "").strip() or None,
                                   valid_from=_date(r.get("valid_from") or "", i, "valid_from"),
                                   valid_to=_date(r.get("valid_to") or "", i, "valid_to"),
                                   unit_code=(r.get("unit_code") or "").strip() or None, public=public))
    return out


@knowledge_app.command("import")
def import_articles(path: Annotated[Path, typer.Argument(help="a UTF-8 CSV: question, answer[, category_code, "
                                                             "area_code, valid_from, valid_to, unit_code, public]")],
                    draft: Annotated[bool, typer.Option("--draft", help="as drafts to review (default: "
                                                                        "published)")] = False) -> None:
    """Articles from a CSV file, published at once (or as drafts); the same question and answer twice is
    imported once."""
    with session_scope() as session:
        items = read_articles(path)
        report = kb.bulk_create(session, SYSTEM, clock(), items, publish=not draft, source="import")
    console.print(f"knowledge: {report.created} articles imported, {report.skipped} already there "
                  f"({report.seconds:.1f} s)")


@knowledge_app.command("propose")
def propose(days: Annotated[int, typer.Option(min=1, max=kb.MAX_PROPOSAL_DAYS)] = 365,
            min_count: Annotated[int, typer.Option(min=2, max=kb.MAX_PROPOSAL_MIN_COUNT,
                                                   help="tickets answered alike, at least")] = 3,
            limit: Annotated[int, typer.Option(min=1, max=kb.MAX_PROPOSALS)] = 20,
            create: Annotated[bool, typer.Option("--create", help="make each proposal a draft article")] = False,
            as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Replies that answer the same question the same way again and again, as articles to write."""
    with session_scope() as session:
        found = kb.propose(session, SYSTEM, clock(), days=days, min_count=min_count, limit=limit)
        if as_json:
            typer.echo(json.dumps([p.__dict__ for p in found], ensure_ascii=False, indent=2))
        else:
            table = Table(title=f"proposals from replies of the last {days} days")
            for col in ("count", "unit", "category", "question", "answer"):
                table.add_column(col, overflow="fold")
            for p in found:
                answer = p.answer if len(p.answer) <= 80 else p.answer[:80] + "…"
                table.add_row(str(p.count), escape(p.unit_name or "—"), escape(p.category_name or "—"),
                              escape(p.question), escape(answer))
            console.print(table)
        if create and found:
            made = kb.accept_proposals(session, SYSTEM, clock(), found)
            err.print(f"{len(made)} draft articles created: {', '.join(str(a.id) for a in made)}")


@knowledge_app.command("seed")
def seed(limit: Annotated[int | None, typer.Option(min=1, help="at most this many articles")] = None) -> None:
    """The demo's articles: from the corpus's replied messages shipped in the package (once)."""
    with session_scope() as session:
        report = kb.seed_demo(session, SYSTEM, clock(), limit=limit)
    if report.created:
        console.print(f"knowledge: {report.created} articles from the replied messages "
                      f"({report.seconds:.1f} s)")
    else:
        console.print(f"knowledge: the demo articles are there already ({report.skipped})")


@knowledge_app.command("reindex")
def reindex(resegment: Annotated[bool, typer.Option("--resegment", help="cut the words again (after the "
                                                                        "dictionary changed)")] = False) -> None:
    """Count the articles' words again and rebuild the full-text index."""
    with session_scope() as session:
        n = kb.rebuild_index(session, SYSTEM, resegment=resegment)
    console.print(f"knowledge: {n} articles indexed")


@knowledge_app.command("expire")
def expire() -> None:
    """Mark expired the published articles whose validity has ended."""
    settings = get_settings()
    with session_scope(settings) as session:
        n = kb.expire_due(session, SYSTEM, clock(), settings)
    console.print(f"knowledge: {n} articles expired")


@knowledge_app.command("export")
def export(path: Annotated[Path, typer.Argument(help="the CSV file to write")]) -> None:
    """Every article as CSV (the import's columns, with id and status)."""
    with session_scope() as session, open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "status", *IMPORT_COLUMNS, "category_code", "area_code", "valid_from", "valid_to",
                    "unit_code", "public"])
        n = 0
        shown = (selectinload(Article.category), selectinload(Article.area), selectinload(Article.unit))
        for a in session.scalars(select(Article).options(*shown).order_by(Article.id)):
            w.writerow([a.id, a.status.value, a.question, a.answer, a.category.code if a.category else "",
                        a.area.code if a.area else "", a.valid_from or "", a.valid_to or "",
                        a.unit.code if a.unit else "", int(a.public)])
            n += 1
    err.print(f"{n} articles written to {path}")
