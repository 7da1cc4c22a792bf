"""The `jiesu` command: everything an administrator or analyst does from a shell.

jiesu/cli/root.py is the root: its own commands (db.py: db; serve.py: serve, clock) and every command group a
capability's wiring names: `jiesu places ...` is jiesu/places/cli.py, and so on. What the commands share
(the consoles, one-line errors, a unit of work per command) is support.py. Nothing outside the CLI imports it.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`app` and `main` (root.py), imported when first asked for. Every capability's cli.py imports
    jiesu.cli.support, which starts this package: were the root imported here, a capability's cli.py imported
    first would be asked for its command group before it had one."""
    if name in ("app", "main"):
        from jiesu.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
