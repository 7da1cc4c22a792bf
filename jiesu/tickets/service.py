"""The ticket's use cases, as the API, the pages, the CLI and the jobs call them: intake mechanics (`store`),
the workflow's steps (`workflow`) and reading (`reading`), each in its own module."""

from __future__ import annotations

from jiesu.tickets.models import Channel  # noqa: F401  (callers built requests with service.Channel before the split)
from jiesu.tickets.reading import (  # noqa: F401
    BRIEF,
    CENTRE_ROLES,
    DETAIL,
    ROW,
    TicketFilter,
    access_log,
    by_number,
    can_see,
    contact_of,
    count,
    get,
    list_tickets,
    readable,
    related,
    replayed_state,
    shaped,
    timeline_units,
    told_actor,
    told_uploader,
    visibility,
)
from jiesu.tickets.store import (  # noqa: F401
    MAX_TEXT,
    PHONE,
    Intake,
    NewRequest,
    Proposal,
    check,
    create_request,
    find_by_key,
    mask_name,
    mask_phone,
    new_event,
    next_number,
)
from jiesu.tickets.workflow import (  # noqa: F401
    EFFECTS,
    MAX_EXTENSION_DAYS,
    Effect,
    StepInput,
    act,
    available_steps,
    summons_waiting,
)
