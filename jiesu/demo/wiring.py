from jiesu.registry import Registry


def include(r: Registry) -> None:
    r.add_command("demo", "jiesu.demo.cli:demo_app")
    r.add_command("seed", "jiesu.demo.cli:seed_app")
