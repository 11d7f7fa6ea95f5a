"""Who is calling: API keys (``Authorization: Bearer``) and the management key."""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.store import ApiKey, Store
from unigate.errors import AuthenticationError

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


async def require_key(request: web.Request, store: Store) -> ApiKey:
    key = await store.authenticate(bearer(request))
    if key is None:
        raise AuthenticationError("Incorrect API key provided, or the key is disabled.")
    return key


async def require_management_key(request: web.Request, store: Store) -> None:
    if not await store.check_management_key(bearer(request)):
        raise AuthenticationError("This endpoint needs the management key.", code="invalid_management_key")
