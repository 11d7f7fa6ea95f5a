"""The ``x-ratelimit-*`` headers on every response to a rate-limited key, as OpenAI sends them.

The gateway records its decision in a context variable (``limits/window.py``); the response is
prepared in the same task, so this hook finds it there. Refusals carry the headers on the error.
"""

from __future__ import annotations

from aiohttp import web

from unigate.limits.window import DECISION, headers

__all__ = ["add_rate_limit_headers"]


async def add_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    decision = DECISION.get()
    if decision is not None and decision.allowed:
        response.headers.update(headers(decision))
