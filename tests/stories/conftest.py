from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from jiesu.units import auth
from tests.stories import Hotline


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch):
    # The stories log a dozen people in; the real hash parameters cost ~0.15 s a password.
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def hotline(client, session, clock) -> Hotline:
    return Hotline(client, session, clock)
