"""A throwaway PostgreSQL server from the local binaries, for the test suite and the benchmarks.

initdb refuses to run as root, and CI runs as root: then the cluster belongs to the `postgres`
system user (runuser). JIESU_TEST_DATABASE_URL points everything at an existing server instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class Unavailable(Exception):
    """No PostgreSQL can be had here; the message says why."""


def find_bindir() -> Path:
    env = os.environ.get("JIESU_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise Unavailable("no PostgreSQL binaries (looked in /usr/lib/postgresql/*/bin and PATH); "
                      "install postgresql-15 or set JIESU_TEST_DATABASE_URL")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    bindir: Path
    root: Path
    port: int
    as_user: str | None
    options: str = ""  # the server's command-line options (pg_ctl -o), to start it again after pause()

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        r = self._run(self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        if r.returncode != 0:
            raise Unavailable(f"createdb {name} failed: {r.stderr.strip()}")
        return self.url(name)

    def stop(self) -> None:
        self._run(self.bindir / "pg_ctl", "-D", self.root / "data", "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def pause(self) -> None:
        """Shut the server down as an operator's restart does (fast mode: sessions are ended, what they
        committed is kept), leaving its data for resume()."""
        r = self._run(self.bindir / "pg_ctl", "-D", self.root / "data", "-m", "fast", "-w", "stop")
        if r.returncode != 0:
            raise Unavailable(f"pg_ctl stop failed: {r.stderr.strip()}")

    def resume(self) -> None:
        """Start the server again after pause(), on the same port and data."""
        r = self._run(self.bindir / "pg_ctl", "-D", self.root / "data", "-o", self.options, "-l", self.root / "log",
                      "-w", "-t", "60", "start")
        if r.returncode != 0:
            raise Unavailable(f"pg_ctl start failed: {r.stderr.strip()}")


def start() -> Server:
    bindir = find_bindir()
    as_user = None
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no `postgres` system user to own the cluster") from None
        as_user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="jiesu-pg-"))
    if as_user:
        os.chown(root, pw.pw_uid, pw.pw_gid)
    server = Server(bindir=bindir, root=root, port=free_port(), as_user=as_user)
    r = server._run(bindir / "initdb", "-D", root / "data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--no-locale", "--no-sync")
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"initdb failed: {r.stderr.strip()[-500:]}")
    for attempt in range(3):  # another process (make test runs two) may take the free port first
        opts = (f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        server.options = opts
        r = server._run(bindir / "pg_ctl", "-D", root / "data", "-o", opts, "-l", root / "log", "-w", "-t", "60",
                        "start")
        if r.returncode == 0:
            break
        if attempt == 2:
            log = (root / "log").read_text(errors="replace")[-800:] if (root / "log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise Unavailable(f"pg_ctl start failed: {r.stderr.strip()} {log}")
        server.port = free_port()
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", server.port)) == 0:
                return server
        time.sleep(0.1)
    server.stop()
    raise Unavailable("PostgreSQL did not start listening in 5 s")
