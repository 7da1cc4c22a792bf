"""Two SQLite writers that both read before they write: with a deferred BEGIN the second is refused at
once ("database is locked"); a unit of work that says it writes takes the lock first and waits."""

import contextlib
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from jiesu.db import make_engine, make_sessionmaker, unit_of_work


def _race(tmp_path, write: bool) -> list[BaseException]:
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    factory = make_sessionmaker(engine)
    barrier = threading.Barrier(2, timeout=5)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with unit_of_work(factory, write=write) as s:
                s.execute(text("SELECT count(*) FROM t")).scalar()
                # both have read; now both write (a broken barrier: the other one waits for our lock)
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
                s.execute(text("INSERT INTO t VALUES (1)"))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    engine.dispose()
    return errors


def test_deferred_writers_that_read_first_collide(tmp_path):
    errors = _race(tmp_path, write=False)
    assert errors and all(isinstance(e, OperationalError) and "locked" in str(e) for e in errors)


def test_writers_that_say_so_wait_their_turn(tmp_path):
    assert _race(tmp_path, write=True) == []


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_api_marks_writes(method):
    from jiesu.api.deps import READ_METHODS

    assert (method in READ_METHODS) == (method == "GET")
