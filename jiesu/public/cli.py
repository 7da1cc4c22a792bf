"""`jiesu public rollup --month YYYY-MM | --all`: keep the public page's figures of closed months."""

from __future__ import annotations

from typing import Annotated

import typer

from jiesu.clock import Clock, SystemClock
from jiesu.config import get_settings
from jiesu.public import service as public
from jiesu.shell import console, fail, session_scope

public_app = typer.Typer(help="The public page of how the city answers (/public): its monthly rollup.",
                         no_args_is_help=True)


def clock() -> Clock:
    """The time the commands run at (a test puts its own clock here)."""
    return SystemClock()


@public_app.command("rollup")
def rollup(
    month: Annotated[str | None, typer.Option("--month", help="a closed month, YYYY-MM")] = None,
    every: Annotated[bool, typer.Option("--all", help="every closed month since the first ticket")] = False,
) -> None:
    """Compute and keep a closed month's public figures (or all of them), and refresh the latest replies."""
    if (month is None) == (not every):
        raise fail("give --month YYYY-MM or --all")
    settings, now = get_settings(), clock()
    with session_scope(settings) as session:
        if every:
            done = public.rollup_all(session, settings, now)
        else:
            public.rollup(session, settings, now, month)
            done = [month]
        replies = public.refresh_replies(session, settings, now)
    console.print(f"{len(done)} month(s) kept{': ' + ', '.join(done) if done else ''}; {replies} new replies",
                  highlight=False)
