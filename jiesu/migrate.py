"""Schema migrations: upgrade, check, new revision. Used by the CLI and by the tests."""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

import jiesu.models  # noqa: F401
from jiesu import revisions
from jiesu.db import Base
from jiesu.revisions import alembic_config


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def new_revision(engine: Engine, message: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


@dataclass
class SchemaStatus:
    current: str | None
    head: str
    differences: list[str]

    @property
    def is_current(self) -> bool:
        return self.current == self.head and not self.differences


def check(engine: Engine) -> SchemaStatus:
    """Where the database stands against the newest migration, and any drift from the models."""
    newest = revisions.head(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                  "include_name": jiesu.models.include_name})
        current = ctx.get_current_revision()
        diffs = [repr(d) for d in compare_metadata(ctx, Base.metadata)] if current == newest else []
    return SchemaStatus(current=current, head=newest, differences=diffs)
