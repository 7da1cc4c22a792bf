"""What a capability registers at wiring time, in one place (its `wiring.py`, as Warehouse's `includeme`):
its API routers, its pages, its commands, its periodic jobs and what it listens to.

Routers and commands are named by "module:attribute" and imported only by the process that serves them: the
CLI does not import the web pages to print its help, and the web app does not import the CLI.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jiesu.scheduler import Job


def resolve(ref: str) -> Any:
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass
class Registry:
    api: list[str] = field(default_factory=list)  # routers under /api/v1, matched in this order
    routers: list[str] = field(default_factory=list)  # top-level routers: pages, Open311
    commands: list[tuple[str, str]] = field(default_factory=list)  # (name, "module:typer_app") under `jiesu`
    jobs: list[Job] = field(default_factory=list)  # the scheduler's pass, in this order
    listeners: list[tuple[str, Callable[..., None]]] = field(default_factory=list)  # (topic, handler)

    def add_api(self, ref: str) -> None:
        self.api.append(ref)

    def add_router(self, ref: str) -> None:
        self.routers.append(ref)

    def add_command(self, name: str, ref: str) -> None:
        self.commands.append((name, ref))

    def add_job(self, job: Job) -> None:
        self.jobs.append(job)

    def listen(self, topic: str, handler: Callable[..., None]) -> None:
        self.listeners.append((topic, handler))
