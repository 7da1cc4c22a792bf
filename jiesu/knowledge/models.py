"""The knowledge base's tables: articles, the document frequency of their words, and which article answered
which request.

The full-text index itself is the database's own and lives outside the models (migration 0006):
on SQLite an FTS5 table `knowledge_fts` over (question_terms, answer_terms), kept by triggers; on PostgreSQL
a generated tsvector column `search_vector` with a GIN index. `SCHEMA_EXTRAS` names them for the schema
check, which must not take them for drift.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu.db import Base, UTCDateTime
from jiesu.knowledge.rules import ArticleStatus
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category
from jiesu.units.models import Unit

FTS_TABLE = "knowledge_fts"  # SQLite: the FTS5 table (external content: knowledge_articles)
SEARCH_VECTOR = "search_vector"  # PostgreSQL: the generated tsvector column of knowledge_articles
SEARCH_INDEX = "ix_knowledge_articles_search_vector"
# (type, name) of what the migration makes by hand and the models do not declare; FTS5's shadow tables too.
SCHEMA_EXTRAS = {("table", FTS_TABLE), ("column", SEARCH_VECTOR), ("index", SEARCH_INDEX)}


def is_schema_extra(name: str | None, type_: str) -> bool:
    """Whether a reflected object is the knowledge base's hand-made full-text index (not drift)."""
    if name is None:
        return False
    if type_ == "table" and (name == FTS_TABLE or name.startswith(FTS_TABLE + "_")):
        return True
    return (type_, name) in SCHEMA_EXTRAS


class Article(Base):
    """One question and its answer, as the hotline gives it: where and when it applies, who vouches for it."""

    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    # Where it applies: none is the whole city; a district or street, and the areas under it.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)  # 来源部门
    status: Mapped[ArticleStatus] = mapped_column(Enum(ArticleStatus, native_enum=False, length=16), index=True)
    public: Mapped[bool] = mapped_column(Boolean, default=True)  # citizens may find it in the app
    # The segmented words (rules.clean_terms), space-separated: what both full-text indexes read.
    question_terms: Mapped[str] = mapped_column(Text, default="")
    answer_terms: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="manual")  # manual, import, replies, teddy2020
    source_ref: Mapped[str | None] = mapped_column(String(256), index=True)  # e.g. the tickets it was built from
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    review_note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    category: Mapped[Category | None] = relationship(lazy="raise")
    area: Mapped[Area | None] = relationship(lazy="raise")
    unit: Mapped[Unit | None] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}


Index("ix_knowledge_articles_status_public", Article.status, Article.public)


class Term(Base):
    """How many articles hold a word (all articles, whatever their status, as the full-text indexes do).
    The search asks only for a query's rarer words and weighs them by it. The row with term '' counts the
    articles."""

    __tablename__ = "knowledge_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    df: Mapped[int] = mapped_column(Integer)


class DirectAnswer(Base):
    """直接答复: a request an operator answered from the knowledge base, and with which article (none when
    the answer was written on the spot)."""

    __tablename__ = "knowledge_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), unique=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="SET NULL"),
                                                   index=True)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)  # the operator changed the article's answer
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    by: Mapped[str] = mapped_column(String(64))

    article: Mapped[Article | None] = relationship(lazy="raise")
