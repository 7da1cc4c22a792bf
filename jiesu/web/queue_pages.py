"""The dispatcher's queue (派单员), /queue: the tickets waiting for dispatch with smart dispatch's suggestion in
each row, the returns to rule on, the extension requests to approve or refuse, and the suggested duplicates to
merge, each list with its count; a district filter and an overdue filter (the dispatch deadline included).

Every action is a form posting the workflow's step to POST /tickets/{number}/steps/{step} (web/ticket_pages.py)
with the ticket's version and the way back here: accepting a suggestion is a dispatch that carries the suggested
category, unit and co-units; correcting it, the same step with what the dispatcher typed.
"""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.limits import MAX_PAGE_NUMBER
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import URGENCY_LABELS
from jiesu.tickets import queues
from jiesu.tickets.queues import Queue, QueueFilter
from jiesu.tickets.rules import FINAL_STATES, Step
from jiesu.web import pages

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

PAGE_SIZE = 50
TABS = {Queue.new: "待派单", Queue.returned: "退单待审", Queue.extension: "延期待批", Queue.duplicates: "疑似重复"}

# The nav's link (base.html): shown to whom the workflow's table lets dispatch.
pages.templates.env.globals["may_dispatch"] = lambda actor: queues.may_dispatch(actor)


def time_left(due: datetime | None, now: datetime) -> dict | None:
    """How long until `due` (or since, when late), in days, hours and minutes, for the row's countdown."""
    if due is None:
        return None
    seconds = int((due - now).total_seconds())
    late = seconds < 0
    minutes = abs(seconds) // 60
    return {"late": late, "days": minutes // 1440, "hours": minutes % 1440 // 60, "minutes": minutes % 60}


def suggestion_of(raw: str | None) -> dict | None:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def other_readings(s: dict) -> list[tuple[str, str]]:
    """(path, street code) of each other reading of an ambiguous place in a suggestion."""
    place = s.get("place") if isinstance(s.get("place"), dict) else {}
    if not place.get("ambiguous"):
        return []
    out = []
    for a in place.get("alternatives") or []:
        street = queues.street_of(str(a.get("code") or "")) if isinstance(a, dict) else None
        if street:
            out.append((str(a.get("path") or ""), street))
    return out


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
               tab: str = "", district: str = "", overdue: str = "", page: int = 1) -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    if not queues.may_dispatch(actor):
        return pages.error_page(request, actor, 403, session=session, message="只有派单员可以使用派单台")
    queue = Queue(tab) if tab in Queue._value2member_map_ else Queue.new
    districts = pages.district_list(session, actor)
    names = {d.code: d.name for d in districts}
    district_code = district if district in names else ""
    late = overdue == "1"
    f = QueueFilter(district_code=district_code or None, overdue=late)
    now = clock.now()
    totals = queues.counts(session, actor, now, f)
    pages_n = max(1, -(-totals[queue] // PAGE_SIZE))
    page = min(max(page, 1), pages_n, MAX_PAGE_NUMBER)
    waiting = queues.page(session, actor, now, queue, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    rows = []
    for w in waiting:
        t = w.ticket
        s = suggestion_of(t.suggestion) if queue in (Queue.new, Queue.duplicates) else None
        rows.append({"t": t, "w": w, "s": s, "summary": pages.summary(t.request, 60),
                     "district": names.get(t.district_code or "", ""),
                     "left": time_left(t.dispatch_by if queue in (Queue.new, Queue.duplicates) else t.reply_by, now)})
    parents = {}
    if queue == Queue.duplicates:
        numbers = [d.get("number") for r in rows for d in (r["s"] or {}).get("duplicates") or []]
        parents = queues.tickets_named(session, actor, [n for n in numbers if isinstance(n, str)])
    # The unit pickers offer the streets of the districts on the page, and where the place was ambiguous, the
    # streets of its other readings first; the category picker the first level of the tree.
    pickers = queues.street_units(session, [r["t"].district_code for r in rows]) if rows else {}
    readings = {r["t"].number: other_readings(r["s"]) for r in rows if r["s"]}
    named = queues.units_named(session, [street for alts in readings.values() for _path, street in alts])
    for r in rows:
        r["alternatives"] = [(street, named[street], path) for path, street in readings.get(r["t"].number, [])
                             if street in named]
    categories = taxonomy.list_categories(session, actor, level=1) if rows and queue != Queue.extension else []
    params = {"tab": queue.value if queue != Queue.new else "", "district": district_code,
              "overdue": "1" if late else ""}
    back = pages.url_with("/queue", {**params, "page": page if page > 1 else ""})
    done = request.query_params.get("done", "")
    return pages.render(
        request, "queue.html", actor, session=session, queue=queue.value, tabs=TABS, totals=totals,
        total=totals[queue], rows=rows, final_states=FINAL_STATES,
        parents=parents, pickers=pickers, categories=categories, districts=districts, district=district_code,
        overdue=late, page=page, pages=pages_n, back=back, local=pages.local_time(settings.tz),
        urgency_labels=URGENCY_LABELS, done=Step(done) if done in Step._value2member_map_ else None,
        tab_url=lambda q: pages.url_with("/queue", {**params, "tab": q.value if q != Queue.new else ""}),
        overdue_url=lambda on: pages.url_with("/queue", {**params, "overdue": "1" if on else ""}),
        page_url=lambda n: pages.url_with("/queue", {**params, "page": n if n > 1 else ""}))

