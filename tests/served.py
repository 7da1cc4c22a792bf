"""A real `jiesu` as a user runs it, for the browser tests and the third-party client tests: the CLI in a
subprocess on a SQLite file, `jiesu serve` on a free port, Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.pg import free_port

DEMO_DB = "demo.db"  # the SQLite file of the session's seeded demo (tests/conftest.py demo_var)
CHROMIUM = os.environ.get("JIESU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def need_chromium() -> None:
    """Skip without the browser; on CI its absence is a failure (.ci/run installs it)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: .ci/run should have installed Debian's chromium")
        pytest.skip(f"browser tests skipped: no {CHROMIUM} (apt-get install chromium)")


def app_env(var: Path, db: str = "e2e.db", **extra: str) -> dict[str, str]:
    """The environment of a Jiesu on its own var folder, SQLite file and free port."""
    return {**os.environ, "JIESU_VAR_DIR": str(var), "JIESU_DATABASE_URL": f"sqlite:///{var / db}",
            "JIESU_PORT": str(free_port()), **extra}


def copy_demo(seeded: Path, var: Path, db: str = "e2e.db") -> Path:
    """A private copy of a seeded var folder in `var`: its SQLite file (renamed `db`, with any -wal/-shm beside
    it), models and caches, so that a test that changes the demo changes nobody else's."""
    shutil.copytree(seeded, var, dirs_exist_ok=True, ignore=shutil.ignore_patterns(f"{DEMO_DB}*"))
    for f in seeded.glob(f"{DEMO_DB}*"):
        shutil.copy2(f, var / (db + f.name[len(DEMO_DB):]))
    return var


def demo_env(request: pytest.FixtureRequest, name: str, db: str = "e2e.db", **extra: str) -> dict[str, str]:
    """app_env on a fresh copy of the demo city seeded once per session (conftest's demo_var), in a new folder
    `name`-N; the demo is seeded only when the first test that needs it asks."""
    var = request.getfixturevalue("tmp_path_factory").mktemp(name)
    return app_env(copy_demo(request.getfixturevalue("demo_var"), var, db), db, **extra)


def jiesu(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """Run one `jiesu` command; its output, or the test fails with it."""
    done = subprocess.run([sys.executable, "-m", "jiesu.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"jiesu {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def serving(env: dict[str, str], *args: str) -> Iterator[str]:
    """`jiesu serve [args]` until the block ends: its base URL once it accepts connections."""
    port = int(env["JIESU_PORT"])
    proc = subprocess.Popen([sys.executable, "-m", "jiesu.cli", "serve", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"jiesu serve exited: {proc.stdout.read().decode(errors='replace')}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def chromium(playwright) -> Iterator:
    """Headless Debian Chromium, no network of its own."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
