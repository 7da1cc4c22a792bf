from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.audit:router")
