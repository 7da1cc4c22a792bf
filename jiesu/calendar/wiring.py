from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.calendar:router")
    r.add_command("calendar", "jiesu.calendar.cli:calendar_app")
