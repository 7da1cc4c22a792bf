from jiesu.db import unit_of_work
from jiesu.knowledge import service as knowledge
from jiesu.permissions import CLOCK
from jiesu.registry import Registry
from jiesu.scheduler import Job, Pass


def _expire(work: Pass) -> dict[str, int]:
    with unit_of_work(work.sessions, write=True) as session:
        return {"expired_articles": knowledge.expire_due(session, CLOCK, work.clock, work.settings)}


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.knowledge:router")
    r.add_command("knowledge", "jiesu.knowledge.cli:knowledge_app")
    r.add_job(Job("knowledge", ("expired_articles",), _expire))
