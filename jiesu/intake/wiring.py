from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.intake:router")  # POST /requests: matched first, it is the busiest route
    r.add_router("jiesu.web.console_pages:router")  # /console: the operator's calls and direct answers
    r.add_command("tickets", "jiesu.intake.cli:tickets_app")  # jiesu tickets import: history from an older system
