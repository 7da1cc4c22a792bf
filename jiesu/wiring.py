"""The one list of capabilities, and what it takes to put them together: each one's `wiring.include`
registers its routers, pages, commands, jobs and listeners (jiesu.registry.Registry). app.py, the CLI and
the scheduler read the registry; none of them lists a capability by hand.

Order matters in two places: routes are matched in registration order (intake first, the busiest), and the
scheduler's pass runs jobs in this order (the ticket steps first).
"""

from __future__ import annotations

from functools import cache

from jiesu import events
from jiesu.assessment import wiring as assessment
from jiesu.audit import wiring as audit
from jiesu.calendar import wiring as calendar
from jiesu.callback import wiring as callback
from jiesu.demo import wiring as demo
from jiesu.hotspots import wiring as hotspots
from jiesu.intake import wiring as intake
from jiesu.knowledge import wiring as knowledge
from jiesu.open311 import wiring as open311
from jiesu.places import wiring as places
from jiesu.public import wiring as public
from jiesu.registry import Registry
from jiesu.routing import wiring as routing
from jiesu.scheduler import Scheduler
from jiesu.taxonomy import wiring as taxonomy
from jiesu.tickets import wiring as tickets
from jiesu.units import wiring as units
from jiesu.web import wiring as web

CAPABILITIES = (intake, tickets, units, places, taxonomy, calendar, assessment, callback, knowledge, routing,
                open311, audit, public, hotspots, web, demo)


@cache
def load() -> Registry:
    """Every capability registered, and its listeners subscribed (once per process)."""
    registry = Registry()
    for capability in CAPABILITIES:
        capability.include(registry)
    for topic, handler in registry.listeners:
        events.subscribe(topic, handler)
    events.mark_wired()
    return registry


def scheduler() -> Scheduler:
    return Scheduler(load().jobs)
