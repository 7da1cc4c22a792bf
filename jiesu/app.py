"""The ASGI application: API, pages and static files in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from jiesu import __version__, wiring
from jiesu.api import edge, errors, open311
from jiesu.api.deps import SessionDep
from jiesu.api.security import SESSION_COOKIE, SecurityHeaders
from jiesu.clock import Clock, SystemClock
from jiesu.config import Settings, get_settings
from jiesu.db import make_engine, make_sessionmaker
from jiesu.registry import resolve
from jiesu.scheduler import JobRunner
from jiesu.web import pages

DESCRIPTION = """接诉即办 (Jiesu): a city's 12345 citizen hotline.

Log in with `POST /api/v1/auth/login` and send the token as `Authorization: Bearer <token>`.
Every error has the shape `{"error": {"code", "message", "field", "details"}}`; `field` names the bad input.
Times are ISO 8601 with an offset, stored in UTC."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the scheduler in-process (a JobRunner) when the app was made with a clock_interval, and stop
    it at shutdown. It reads app.state at start, so a test may swap the sessions after create_app."""
    # Handlers and every dependency that does I/O run in this thread pool.
    anyio.to_thread.current_default_thread_limiter().total_tokens = app.state.settings.threads
    runner = None
    if app.state.clock_interval:
        runner = JobRunner(wiring.scheduler(), app.state.sessions, app.state.clock, app.state.settings,
                           interval=app.state.clock_interval)
        runner.start()
    app.state.job_runner = runner
    try:
        yield
    finally:
        if runner is not None:
            await run_in_threadpool(runner.stop)  # lets a tick under way finish and commit
            app.state.job_runner = None


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               clock: Clock | None = None, clock_interval: float | None = None) -> FastAPI:
    """The app. With `clock_interval` (seconds), it also runs the scheduler in a background thread
    while it is up, as `jiesu serve` does unless told --no-clock; without, it never ticks by itself."""
    settings = settings or get_settings()
    registry = wiring.load()
    engine = engine or make_engine(settings.effective_database_url)
    app = FastAPI(title="Jiesu 接诉即办", version=__version__, description=DESCRIPTION,
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.clock = clock or SystemClock()
    app.state.clock_interval = clock_interval
    app.state.job_runner = None
    refused = errors.install(app, pages.html_error, shapes={edge.OPEN311: open311.error_response})
    # Inside the session (an error page names who is logged in) and the security headers.
    app.add_middleware(edge.Edge, answer=refused)
    app.add_middleware(SessionMiddleware, secret_key=settings.resolved_secret_key(), session_cookie=SESSION_COOKIE,
                       same_site="lax", max_age=12 * 3600, https_only=settings.cookie_secure)
    # Around the whole stack, Starlette's ServerErrorMiddleware included: a 500 carries the headers too.
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())  # type: ignore[method-assign]

    v1 = APIRouter(prefix="/api/v1", dependencies=[Depends(edge.form_fields)])
    # Routes are matched in turn, in the registry's order: the busiest (intake and tickets) first.
    for ref in registry.api:
        v1.include_router(resolve(ref))

    @v1.get("/health", tags=["meta"])
    def health(session: SessionDep) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": engine.dialect.name}

    app.include_router(v1)
    for ref in registry.routers:  # pages and Open311; before the /static mount (plotly.min.js is a route)
        app.include_router(resolve(ref))
    # Swagger UI from an installed wheel (fastapi-offline ships 5.x, which reads OpenAPI 3.1), never a CDN.
    app.mount("/static/docs", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="Jiesu API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/docs/favicon.png")

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    return app


def create_worker_app() -> FastAPI:
    """The app of one worker of `jiesu serve --workers N`: settings from the environment, no clock (the
    supervising process runs it once for all workers)."""
    return create_app()
