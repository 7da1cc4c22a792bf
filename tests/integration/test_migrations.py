from sqlalchemy import inspect

from jiesu import migrate
from jiesu.db import make_engine


def test_schema_is_at_head_and_matches_the_models(engine):
    status = migrate.check(engine)
    assert status.current == status.head == "0017"
    assert status.differences == []
    assert status.is_current


def test_tables_exist(engine):
    names = set(inspect(engine).get_table_names())
    assert {"areas", "area_aliases", "area_boundaries", "units", "users", "api_tokens", "categories",
            "deadline_policies", "calendar_overrides", "alembic_version"} <= names


def test_empty_database_is_reported_behind(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    status = migrate.check(engine)
    assert status.current is None
    assert not status.is_current
    migrate.upgrade(engine)
    assert migrate.check(engine).is_current
    engine.dispose()


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
