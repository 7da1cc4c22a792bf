"""Run code under other JIESU_* settings: set the variables, drop the cached Settings, put both back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from jiesu.config import get_settings


@contextmanager
def jiesu_env(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
