"""Running the app: uvloop, aiohttp's server with handler cancellation on client disconnect."""

from __future__ import annotations

from collections.abc import Callable

import uvloop
from aiohttp import web

from unigate.app import create_app
from unigate.settings import Settings

__all__ = ["run"]


def run(settings: Settings, *, announce: Callable[[str], None] = lambda _: None) -> None:
    """Serve until interrupted. ``handler_cancellation`` makes a client disconnect cancel its
    request's task, which stops generation and settles credits."""
    app = create_app(settings)

    async def ready(_: web.Application) -> None:
        announce(f"unigate is serving on http://{settings.host}:{settings.port} (Ctrl-C stops it)")

    app.on_startup.append(ready)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=None,
        handler_cancellation=True,
        loop=uvloop.new_event_loop(),
    )
