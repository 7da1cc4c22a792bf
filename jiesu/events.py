"""In-process events: a capability says what happened; the capabilities above it listen.

A capability below (tickets, callback) must not call the ones above it (assessment) to keep their derived
rows up to date. It publishes a topic instead, in the same transaction, and whoever cares subscribes once at
wiring time (jiesu.wiring.load). Handlers run synchronously, inside the publisher's transaction, so what they
write commits or rolls back with the change itself.

A topic published before the wiring was loaded is an error, not a silent no-op: the assessment's facts would
be missing from the rates without anyone noticing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Handler = Callable[..., None]

_subscribers: dict[str, list[Handler]] = defaultdict(list)
_wired = False


class NotWired(RuntimeError):
    pass


def subscribe(topic: str, handler: Handler) -> None:
    if handler not in _subscribers[topic]:
        _subscribers[topic].append(handler)


def mark_wired() -> None:
    global _wired
    _wired = True


def publish(topic: str, **facts: Any) -> None:
    if not _wired:
        raise NotWired(f"'{topic}' was published before jiesu.wiring.load(): its listeners would miss it")
    for handler in _subscribers.get(topic, ()):
        handler(**facts)
