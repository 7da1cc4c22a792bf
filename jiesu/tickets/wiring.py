from jiesu.registry import Registry
from jiesu.scheduler import Job, Pass
from jiesu.tickets import jobs


def _steps(work: Pass) -> dict[str, int]:
    report = jobs.drain(work.sessions, work.clock, work.settings, batch=work.batch)
    return {**report.counts(), "more": int(report.more)}


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.tickets:router")
    r.add_api("jiesu.api.v1.attachments:router")
    r.add_job(Job("tickets", jobs.TickReport.COUNTS, _steps))
