from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from jiesu.api.deps import IsoDate, SessionDep, SettingsDep, UserDep, moment_query
from jiesu.api.errors import responses
from jiesu.calendar import service
from jiesu.calendar.schemas import BusinessDaysOut, DayOut, OverrideOut
from jiesu.errors import InvalidInput

router = APIRouter(prefix="/calendar", tags=["calendar"])
AUTH = responses(401, 403, 422, notes={403: "role may not read the calendar"})


@router.get("/add-business-days", response_model=BusinessDaysOut, responses=AUTH)
def add_business_days(session: SessionDep, actor: UserDep, settings: SettingsDep,
                      start: Annotated[datetime, moment_query("start", required=True)],
                      days: Annotated[float, Query(ge=0, le=366)],
                      calendar: Annotated[str, Query(max_length=32)] = "default") -> BusinessDaysOut:
    """The instant `days` business days after `start` (without an offset: in the city's time zone)."""
    cal = service.business_calendar(session, actor, settings, calendar)
    try:
        result = cal.add_business_days(start, days)
        result_local = result.astimezone(settings.tz).isoformat()
    except (ValueError, OverflowError) as exc:
        # Past the dates Python can represent (near year 1 or 9999), or no working day left in the
        # calendar: the input cannot be answered, which is not an internal error.
        raise InvalidInput(f"no answer for start {start.isoformat()} plus {days:g} business days: {exc}",
                           field="start") from exc
    warnings = service.coverage_warnings(cal, start, result)
    return BusinessDaysOut(start=start, days=days, result=result, result_local=result_local,
                           calendar_covered=not warnings, warnings=warnings)


@router.get("/days/{day}", response_model=DayOut, responses=AUTH)
def describe_day(day: IsoDate, session: SessionDep, actor: UserDep, settings: SettingsDep,
                 calendar: Annotated[str, Query(max_length=32)] = "default") -> DayOut:
    """Whether a date is a working day, and why (an override, the holiday data, or the weekday fallback)."""
    cal = service.business_calendar(session, actor, settings, calendar)
    return DayOut(**service.describe_day(cal, day))


@router.get("/overrides", response_model=list[OverrideOut], responses=AUTH)
def overrides(session: SessionDep, actor: UserDep, year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
              calendar: Annotated[str, Query(max_length=32)] = "default") -> list[OverrideOut]:
    return [OverrideOut(day=o.day, kind=o.kind, name=o.name)
            for o in service.list_days(session, actor, year, calendar)]
