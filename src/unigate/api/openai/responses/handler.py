"""``POST /v1/responses`` and its alias ``/responses``: the OpenAI Responses API on every chat model.

Parse (``responses_schema.py``), call the gateway with the ``model:responses`` scope, render
(``responses_render.py``). Stateless: see the schema's docstring for what that refuses.
"""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.scopes import RESPONSES
from unigate.api.auth import require_key
from unigate.api.context import GATEWAY, STORE
from unigate.api.openai.responses.render import ResponseStream, response_body
from unigate.api.openai.responses.schema import ResponsesRequest
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.api.streaming import send_stream

__all__ = ["responses"]


async def responses(request: web.Request) -> web.StreamResponse:
    key = await require_key(request, request.app[STORE])
    wire = validate(ResponsesRequest, await read_json(request))
    chat = wire.to_canonical()
    echo = wire.echo()
    gateway, admission = request.app[GATEWAY], admission_for(request)
    if not chat.stream:
        result, charge = await gateway.complete(chat, key, scope=RESPONSES, admission=admission)
        return web.Response(body=response_body(result, charge, echo=echo), content_type="application/json")
    return await send_stream(
        request,
        gateway.stream(chat, key, scope=RESPONSES, admission=admission),
        lambda model: ResponseStream(model=model or chat.model, echo=echo),
    )
