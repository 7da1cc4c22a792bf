from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.auth:router")
    r.add_api("jiesu.api.v1.units:router")
    r.add_command("units", "jiesu.units.cli:units_app")
    r.add_command("users", "jiesu.units.cli:users_app")
