"""Who is calling: API keys (``Authorization: Bearer``) and the management key.

A key that is missing, wrong, disabled or deleted gets 401 ``invalid_api_key``; the management
endpoints answer 401 ``invalid_management_key`` to anything but the management key.
"""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.store import ApiKey, Store
from unigate.api.context import KEYS
from unigate.errors import AuthenticationError
from unigate.observability import tracing

__all__ = ["bearer", "require_key", "require_management_key"]


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.",
            code="missing_api_key",
        )
    return token


async def require_key(request: web.Request, store: Store, *, fresh: bool = False) -> ApiKey:
    """The calling API key. Looked up through the app's key cache when it has one (the chat path),
    in ``store`` when it has none or with ``fresh`` (the key and billing endpoints, where nothing
    is reserved that would check the key again)."""
    with tracing.span("unigate.authenticate"):
        token = bearer(request)
        cache = request.app.get(KEYS)
        key = await (store.authenticate(token) if fresh or cache is None else cache.authenticate(token))
        if key is None:
            raise AuthenticationError("Incorrect API key provided, or the key is disabled.")
        return key


async def require_management_key(request: web.Request, store: Store) -> None:
    if not await store.check_management_key(bearer(request)):
        raise AuthenticationError("This endpoint needs the management key.", code="invalid_management_key")
