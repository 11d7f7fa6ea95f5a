"""``POST /v1/messages`` and its alias ``/messages``: Anthropic's Messages API on every chat model.

Parse (``schema.py``), call the gateway with the ``model:chat`` scope, render (``render.py``).
The key comes in ``x-api-key`` (what the Anthropic SDKs send) or ``Authorization: Bearer``.
Errors take Anthropic's shape (``errors.py``, rendered by the error middleware), and name the
parameters as this API calls them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from unigate.accounts.scopes import CHAT
from unigate.accounts.store import ApiKey
from unigate.api.anthropic.render import MessageStream, message_body, new_message_id
from unigate.api.anthropic.schema import WIRE_PARAMS, MessagesRequest
from unigate.api.auth import require_key
from unigate.api.context import GATEWAY, KEYS, STORE
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.api.streaming import send_stream
from unigate.errors import AuthenticationError, UnsupportedParameter

__all__ = ["messages", "require_anthropic_key"]


async def require_anthropic_key(request: web.Request) -> ApiKey:
    store = request.app[STORE]
    token = request.headers.get("x-api-key", "").strip()
    if not token:
        if not request.headers.get("Authorization"):
            raise AuthenticationError(
                "You didn't provide an API key. Send it in the 'x-api-key' header.", code="missing_api_key"
            )
        return await require_key(request, store)
    cache = request.app.get(KEYS)
    key = await (store.authenticate(token) if cache is None else cache.authenticate(token))
    if key is None:
        raise AuthenticationError("Incorrect API key provided, or the key is disabled.")
    return key


@contextmanager
def wire_names() -> Iterator[None]:
    """Unsupported parameters named as this API calls them (``thinking``, not ``reasoning_effort``)."""
    try:
        yield
    except UnsupportedParameter as exc:
        name = WIRE_PARAMS.get(exc.param or "")
        if name is None:
            raise
        raise UnsupportedParameter(exc.message.replace(repr(exc.param), repr(name)), param=name) from None


async def messages(request: web.Request) -> web.StreamResponse:
    key = await require_anthropic_key(request)
    data = await read_json(request)
    wire = validate(MessagesRequest, data)
    chat = wire.to_canonical(require_max_tokens=True, extensions=wire.extensions(data, request.headers))
    gateway, admission = request.app[GATEWAY], admission_for(request)
    with wire_names():
        if not chat.stream:
            result, charge = await gateway.complete(chat, key, scope=CHAT, admission=admission)
            body = message_body(result, charge, message_id=new_message_id())
            return web.Response(body=body, content_type="application/json")
        return await send_stream(
            request,
            gateway.stream(chat, key, scope=CHAT, admission=admission),
            lambda model: MessageStream(model=model or chat.model),
        )
