from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_api("jiesu.api.v1.taxonomy:router")
    r.add_command("taxonomy", "jiesu.taxonomy.cli:taxonomy_app")
