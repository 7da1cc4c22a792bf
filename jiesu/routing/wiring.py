from jiesu.registry import Registry
from jiesu.routing import service as routing
from jiesu.scheduler import Job, Pass

SUGGEST_NICE = 10  # the worker yields the CPU to intake: acknowledging tickets comes first


def _suggest(work: Pass) -> dict[str, int]:
    return {"suggested": routing.run_suggestions(work.sessions, work.clock, work.settings, stop=work.stop)}


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.routing:router")
    r.add_command("routing", "jiesu.routing.cli:routing_app")
    # Smart dispatch's worker: at every pass, and on its own every JIESU_SUGGEST_INTERVAL (a second).
    r.add_job(Job("smart-dispatch", ("suggested",), _suggest, worker_interval=lambda s: s.suggest_interval,
                  worker_nice=SUGGEST_NICE))
