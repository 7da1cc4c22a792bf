"""The direction of the code's dependencies, pinned: capabilities import only the ones below them, the bottom
imports no capability, `rules.py` modules stay pure, and nothing depends on the demo or the CLI.

Imports inside functions count as much as those at the top: an import moved into a function to dodge a cycle
is still the dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "jiesu"

# The bottom: shared vocabulary and plumbing, importing no capability.
FOUNDATION = {"errors", "permissions", "glossary", "limits", "clock", "config", "db", "data", "events", "scheduler",
              "registry", "revisions", "shell", "__init__", "inputs"}
# The capabilities, lowest first: each may import those of a lower rank, never one of its own rank or above.
RANK = {
    "audit": 0,  # the administrators' audit: every capability that changes reference data writes to it
    "calendar": 1, "places": 1,
    "units": 2, "taxonomy": 2,
    "tickets": 3,
    "routing": 4, "callback": 4,
    "assessment": 5, "knowledge": 5,
    "intake": 6,  # every way a request comes in: calls routing and tickets downward
    "public": 6,  # the public page of how the city answers: reads tickets, places and the assessment
    "hotspots": 6,  # proactive governance: mines the tickets' cube, reads places, calendar, routing's words
    "open311": 7,  # a channel: GeoReport v2 over intake
}
# Where stages 7 and 8 will live, in the same ladder: above what they read, below the delivery.
FUTURE = {"deliberation": 6, "analytics": 6}
# The schema's aggregate (every capability's tables for Alembic) may import models modules, nothing else.
SCHEMA = {"models", "migrate", "migrations"}
# Delivery and composition: HTTP, pages, the CLI, the app, the wiring, the demo. They may import anything below.
DELIVERY = {"api", "web", "cli", "app", "wiring", "demo"}
# Inside a capability, these modules are delivery too: its commands and its registration.
DELIVERY_MODULES = {"cli", "wiring"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            # `from jiesu.tickets import service` imports jiesu.tickets.service
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if base.startswith("jiesu")]
    return [(line, name) for line, name in found if name == "jiesu" or name.startswith("jiesu.")]


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "versions" not in p.parts)


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_delivery(module: str) -> bool:
    parts = module.split(".")
    return _part(module) in DELIVERY or (len(parts) > 2 and parts[2] in DELIVERY_MODULES)


def _violation(source: str, target: str) -> str | None:
    src, dst = _part(source), _part(target)
    if src == dst or _is_delivery(source):
        return None
    if _is_delivery(target):
        return "imports the delivery layer (api, web, cli, app, wiring, demo)"
    if src in FOUNDATION:
        return None if dst in FOUNDATION else "the bottom imports a capability"
    if src in SCHEMA:
        is_models = target.split(".")[2:3] == ["models"]
        return None if dst in FOUNDATION | SCHEMA or is_models else "the schema imports a service"
    if dst in FOUNDATION:
        return None
    rank = {**RANK, **FUTURE}
    if src not in rank:
        return f"{src} is in no layer: give it a rank in tests/unit/test_architecture.py"
    if dst not in rank:
        return f"imports {dst}, which is in no layer"
    if rank[dst] >= rank[src]:
        return f"{src} (rank {rank[src]}) imports {dst} (rank {rank[dst]}): dependencies point down"
    return None


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(_module_name(p)) for p in _sources()}
    unplaced = parts - FOUNDATION - SCHEMA - DELIVERY - set(RANK) - set(FUTURE)
    assert not unplaced, f"place these in a layer: {sorted(unplaced)}"


def test_dependencies_point_down():
    problems = []
    for path in _sources():
        source = _module_name(path)
        for line, target in _imports(path):
            why = _violation(source, target)
            if why:
                problems.append(f"{path.relative_to(ROOT.parent)}:{line} {target}: {why}")
    assert not problems, "\n".join(problems)


def test_rules_modules_are_pure():
    """`rules.py` is logic a test can run without a database: it imports no models and no SQLAlchemy."""
    problems = []
    for path in ROOT.rglob("rules.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.endswith(".models") or name == "models" or name.split(".")[0] == "sqlalchemy":
                    problems.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} imports {name}")
    assert not problems, "\n".join(problems)


def test_nothing_imports_the_demo_or_the_cli():
    """The simulator and the command line are at the top: product code never depends on them, nor do the
    capabilities' own commands (they share jiesu.shell, below them). The wiring names the demo's commands."""
    problems = []
    for path in _sources():
        source = _module_name(path)
        in_cli = source == "jiesu.cli" or source.startswith("jiesu.cli.")
        for line, target in _imports(path):
            if _part(target) == "cli" and not in_cli:
                problems.append(f"{path.relative_to(ROOT.parent)}:{line} imports the CLI ({target})")
            if _part(target) == "demo" and _part(source) != "demo" and not in_cli and source != "jiesu.wiring":
                problems.append(f"{path.relative_to(ROOT.parent)}:{line} imports the demo ({target})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("source", "target", "allowed"), [
    ("jiesu.tickets.workflow", "jiesu.assessment.service", False),  # from below, up
    ("jiesu.assessment.service", "jiesu.tickets.models", True),
    ("jiesu.routing.service", "jiesu.callback.models", False),  # the same rank: neither knows the other
    ("jiesu.events", "jiesu.tickets.models", False),
    ("jiesu.tickets.cli", "jiesu.intake.service", True),  # a capability's commands are delivery
    ("jiesu.api.v1.tickets", "jiesu.tickets.service", True),
    ("jiesu.knowledge.service", "jiesu.web.pages", False),
])
def test_the_rule_itself(source, target, allowed):
    assert (_violation(source, target) is None) == allowed


def test_no_cycle_among_the_top_level_parts():
    """Between folders too (a capability, api, web, cli, the wiring ...), the imports form no cycle: a cycle is
    how a module inside one folder ends up depending on itself through the others."""
    edges: dict[str, set[str]] = {}
    for path in _sources():
        source = _part(_module_name(path))
        for _, target in _imports(path):
            if _part(target) != source:
                edges.setdefault(source, set()).add(_part(target))
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def cycle_from(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := cycle_from(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := cycle_from(start, [])):
            pytest.fail("import cycle: " + " -> ".join(found))
