"""What an audit entry says of a change: the fields that differ, secrets never shown. Pure: no database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields whose value an audit never keeps: that it changed is said, not what to.
SECRET = frozenset({"password", "password_hash", "key_hash", "token", "token_hash", "secret", "api_key"})
HIDDEN = "•••"


def shown(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A snapshot as the audit keeps it: secrets hidden, values as JSON can hold them."""
    if values is None:
        return None
    return {k: HIDDEN if k in SECRET and v not in (None, "") else _plain(v) for k, v in values.items()}


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, list | tuple | set | frozenset):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v.isoformat() if hasattr(v, "isoformat") else str(getattr(v, "value", v))


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each field that differs, in a stable order; a secret that changed shows as
    hidden on both sides."""
    b, a = shown(before) or {}, shown(after) or {}
    out = []
    for key in sorted(set(b) | set(a)):
        old, new = b.get(key), a.get(key)
        if key in SECRET and (before or {}).get(key) != (after or {}).get(key):
            out.append((key, HIDDEN if old is not None else None, HIDDEN if new is not None else None))
        elif old != new:
            out.append((key, old, new))
    return out
