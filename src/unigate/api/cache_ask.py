"""A chat request's ask for the response cache, as LiteLLM and Portkey take it: ``cache`` in the
body (``true``, ``"force"``, or ``{"ttl": 600, "force": true}``; ``false`` or absent: not asked)
or the header ``x-unigate-cache`` (``true``/``1``, ``force``). The body wins over the header.

When the response is prepared, a request that asked gets ``x-unigate-cache: hit|miss`` (nothing
when it was not cacheable: a sampled request not forced), and ``x-unigate-cache-key`` naming its
entry, which the management API can invalidate alone.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from unigate.core.response_cache import CacheAsk
from unigate.errors import InvalidRequest

__all__ = ["HEADER", "add_cache_headers", "cache_ask_for"]

HEADER = "x-unigate-cache"
_ASK = web.RequestKey("cache_ask", CacheAsk)
_ON = {"1", "true", "yes", "on"}


def _from_body(value: Any) -> CacheAsk | None:
    if value is None or value is False:
        return None
    if value is True:
        return CacheAsk()
    if value == "force":
        return CacheAsk(force=True)
    if isinstance(value, dict) and set(value) <= {"ttl", "force"}:
        ttl, force = value.get("ttl"), value.get("force", False)
        ttl_ok = ttl is None or (type(ttl) in (int, float) and ttl > 0)
        if ttl_ok and isinstance(force, bool):
            return CacheAsk(force=force, ttl_s=None if ttl is None else float(ttl))
    raise InvalidRequest(
        "'cache' must be true, false, \"force\", or an object with 'ttl' (seconds, positive) and 'force' (boolean).",
        param="cache",
    )


def cache_ask_for(request: web.Request, data: dict[str, Any]) -> CacheAsk | None:
    """The ask of ``request``, whose JSON body ``data`` loses its ``cache`` member (no wire schema
    knows it); kept on the request for ``add_cache_headers``."""
    if "cache" in data:
        ask = _from_body(data.pop("cache"))
    else:
        header = request.headers.get(HEADER, "").strip().lower()
        ask = CacheAsk(force=True) if header == "force" else CacheAsk() if header in _ON else None
    if ask is not None:
        request[_ASK] = ask
    return ask


async def add_cache_headers(request: web.Request, response: web.StreamResponse) -> None:
    ask = request.get(_ASK)
    if ask is not None and ask.outcome is not None:
        response.headers[HEADER] = ask.outcome
        if ask.key is not None:
            response.headers[f"{HEADER}-key"] = ask.key
