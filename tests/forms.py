"""Posting a page's form from a test client as a browser does: with the session's CSRF token, read from a page
the client was shown (every state-changing form carries it as a hidden field)."""

from __future__ import annotations

import re

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client, path: str = "/login") -> str:
    """The token of the client's session, from the hidden field of a page that has a form."""
    page = client.get(path)
    found = TOKEN.search(page.text)
    assert found, f"{path} has no form with a CSRF token"
    return found.group(1)


def post(client, path: str, data: dict | None = None, *, page: str = "/login", **kwargs):
    """client.post(path, data=...) with the token a page of this session carries."""
    return client.post(path, data={**(data or {}), "csrf_token": token(client, page)}, **kwargs)
