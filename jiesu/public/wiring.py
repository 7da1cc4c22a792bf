from sqlalchemy.exc import IntegrityError

from jiesu.db import unit_of_work
from jiesu.public import service as public
from jiesu.registry import Registry
from jiesu.scheduler import Job, Pass


def _keep(work: Pass) -> dict[str, int]:
    with unit_of_work(work.sessions, write=True) as session:
        months = public.keep_last_period(session, work.settings, work.clock)
        try:
            with session.begin_nested():
                replies = public.refresh_replies(session, work.settings, work.clock)
        except IntegrityError:
            replies = 0  # another clock copied them meanwhile
    return {"months": months, "replies": replies}


def include(r: Registry) -> None:
    r.add_router("jiesu.web.public_pages:router")  # /public: anyone, no login
    r.add_command("public", "jiesu.public.cli:public_app")
    r.add_job(Job("public", ("months", "replies"), _keep))
