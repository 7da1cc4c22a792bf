from jiesu.assessment import service as assessment
from jiesu.callback.service import CALLBACK_REACHED, CALLBACK_UNREACHABLE
from jiesu.db import unit_of_work
from jiesu.registry import Registry
from jiesu.scheduler import Job, Pass
from jiesu.tickets.workflow import RETURN_UPHELD, STEPPED


def _keep_last_period(work: Pass) -> dict[str, int]:
    with unit_of_work(work.sessions, write=True) as session:
        return {"rollups": assessment.keep_last_period(session, work.settings, work.clock)}


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.assessment:router")
    r.add_router("jiesu.web.assessment_pages:router")  # before the /static mount: it serves plotly.min.js
    r.add_command("assess", "jiesu.assessment.cli:assess_app")
    r.add_job(Job("assessment", ("rollups",), _keep_last_period))
    # The facts the three rates read, written in the transaction of what they count.
    r.listen(CALLBACK_REACHED, assessment.record_callback)
    r.listen(CALLBACK_UNREACHABLE, assessment.record_unreachable)
    r.listen(RETURN_UPHELD, assessment.record_upheld_return)
    r.listen(STEPPED, assessment.record_step)
