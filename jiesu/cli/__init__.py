"""The `jiesu` command: everything an administrator or analyst does from a shell.

jiesu/cli/root.py is the root: its own commands (db.py: db; serve.py: serve, clock) and every command group a
capability's wiring names: `jiesu places ...` is jiesu/places/cli.py, and so on. What the commands share (the
consoles, one-line errors, a unit of work per command) is jiesu/shell.py, below every capability, so that no
capability imports this package.
"""

from jiesu.cli.root import app, main

__all__ = ["app", "main"]
