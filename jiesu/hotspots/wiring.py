"""Hot spots and surges: the API, the `jiesu hotspots` commands, and the clock's job, which mines once a local
day (after midnight, Asia/Shanghai) and scans for surges once an hour. Each run is claimed by inserting its
HotSpotRun key first, so that of two clocks only one does the work (the other's insert fails and it skips)."""

from __future__ import annotations

from jiesu.db import unit_of_work
from jiesu.hotspots import service
from jiesu.permissions import CLOCK
from jiesu.registry import Registry
from jiesu.scheduler import Job, Pass


def _run(work: Pass) -> dict[str, int]:
    now = work.clock.now()
    local = now.astimezone(work.settings.tz)
    hotspots = surges = 0
    with unit_of_work(work.sessions, write=True) as session:
        run = service.claim(session, CLOCK, "mine", local.date().isoformat(), now)
        if run is not None:  # the first pass of a local day mines up to yesterday
            report = service.mine(session, CLOCK, work.clock, work.settings, run=run)
            hotspots = report.created + report.reopened
    with unit_of_work(work.sessions, write=True) as session:
        run = service.claim(session, CLOCK, "scan", local.strftime("%Y-%m-%dT%H"), now)
        if run is not None:
            surges = len(service.scan(session, CLOCK, work.clock, work.settings, run=run).raised)
    return {"hotspots": hotspots, "surges": surges}


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.hotspots:router")
    r.add_router("jiesu.web.hotspot_pages:router")  # /hotspots, /surges, /topics, /projects (pages)
    r.add_command("hotspots", "jiesu.hotspots.cli:hotspots_app")
    r.add_api("jiesu.api.v1.projects:router")  # topics of the month and projects
    r.add_command("topics", "jiesu.hotspots.projects_cli:topics_app")
    r.add_command("projects", "jiesu.hotspots.projects_cli:projects_app")
    r.add_job(Job("hotspots", ("hotspots", "surges"), _run))
