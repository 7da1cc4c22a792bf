from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_router("jiesu.api.open311:router")  # /open311/v2: GeoReport v2, JSON and XML, its own error shape
    r.add_command("apikeys", "jiesu.open311.cli:apikeys_app")
