"""The ticket tests' cast of users and service desk, shared with the callback and assessment tests."""

from tests.integration.test_tickets import cast, cheap_passwords, desk  # noqa: F401
