"""The web console at ``/console``: sign in with the management key or an API key, then the
Playground (chat and speech), Keys, Usage, Jobs and Models pages (``docs/console.md``).

Server-rendered pages (Jinja2 templates in ``templates/``), a stylesheet and small scripts
in ``static/`` served by the same process; nothing is loaded from anywhere else. The console is
an aiohttp sub-application, so that its pages render their errors as HTML while the gateway's
API keeps its JSON errors; it reaches the gateway's objects through ``request.config_dict``.
"""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from unigate.accounts.store import Store
from unigate.console import jobs, keys, models, playground, signin, speech, usage
from unigate.console.render import console_errors
from unigate.console.sessions import CONSOLE_VIEWS
from unigate.console.throttle import THROTTLE, MemoryThrottle, RedisThrottle

__all__ = ["console_app"]

STATIC = Path(__file__).parent / "static"


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(location="/console/playground")


def console_app(store: Store, *, redis: aioredis.Redis | None = None, redis_prefix: str = "") -> web.Application:
    """The console, to mount with ``app.add_subapp("/console", console_app(store))``; with
    ``redis`` (the gateway's client) its sign-in throttle is shared by every process."""
    app = web.Application(middlewares=[console_errors])
    app[CONSOLE_VIEWS] = store.console
    app[THROTTLE] = MemoryThrottle() if redis is None else RedisThrottle(redis, prefix=redis_prefix)
    r = app.router
    r.add_get("", _home)
    r.add_get("/", _home)
    r.add_get("/login", signin.login_form)
    r.add_post("/login", signin.login_submit)
    r.add_post("/logout", signin.logout)
    r.add_get("/playground", playground.playground_page)
    r.add_post("/api/chat", playground.chat)
    r.add_post("/api/speech", speech.speech)
    r.add_post("/api/transcribe", speech.transcribe)
    r.add_get("/keys", keys.keys_page)
    r.add_post("/keys", keys.create_key)
    r.add_post("/keys/{prefix}/state", keys.set_key_state)
    r.add_post("/keys/{prefix}/limits", keys.set_key_limits)
    r.add_post("/keys/{prefix}/delete", keys.delete_key)
    r.add_post(r"/accounts/{account_id:\d+}/credits", keys.add_credits)
    r.add_get("/usage", usage.usage_page)
    r.add_get("/usage.csv", usage.usage_csv)
    r.add_get("/jobs", jobs.jobs_page)
    r.add_get("/models", models.models_page)
    r.add_static("/static", STATIC, append_version=True)
    return app
