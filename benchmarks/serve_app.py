"""The uvicorn factory the intake benchmark serves with several workers (`jiesu serve` runs one process).

    uvicorn --factory serve_app:create --app-dir benchmarks --workers 2

It is the app `jiesu serve --no-clock` makes: settings from the JIESU_* environment, no clock thread.
"""

from __future__ import annotations

from fastapi import FastAPI

from jiesu.app import create_app


def create() -> FastAPI:
    return create_app()
