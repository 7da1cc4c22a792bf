from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.places:router")
    r.add_command("places", "jiesu.places.cli:places_app")
