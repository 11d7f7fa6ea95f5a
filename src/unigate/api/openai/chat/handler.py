"""``POST /v1/chat/completions`` and its alias ``/chat/completions``: parse, call the gateway, render.

A body in Anthropic's style (the seeds document one for Claude models: the service's docs, section
"POST /v1/chat/completions: Anthropic-style request body") is read with the Messages API's
translation (``api/anthropic/schema.py``) and answered in the OpenAI shape. A stream from an
OpenAI-compatible upstream keeps its own chunks where the relay can check them
(``ChunkRenderer.relayed``). A request that asks for the response cache (``api/cache_ask.py``) goes
through it (``core/cache_flow.py``) when the operator has it on.
"""

from __future__ import annotations

import time
from dataclasses import replace

from aiohttp import web

from unigate.accounts.scopes import CHAT
from unigate.api.anthropic.schema import MessagesRequest, is_anthropic_style
from unigate.api.auth import require_key
from unigate.api.cache_ask import cache_ask_for
from unigate.api.context import CACHE, GATEWAY, STORE
from unigate.api.openai.chat.render import ChunkRenderer, completion_body, new_completion_id
from unigate.api.openai.chat.schema import ChatCompletionRequest
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.api.streaming import send_stream

__all__ = ["chat_completions"]


async def chat_completions(request: web.Request) -> web.StreamResponse:
    key = await require_key(request, request.app[STORE])
    data = await read_json(request)
    ask = cache_ask_for(request, data)
    if is_anthropic_style(data):
        wire = validate(MessagesRequest, data)
        # Not sendable as is: an OpenAI-style endpoint's body (stream_options, optional max_tokens).
        extensions = replace(wire.extensions(data, request.headers), body=None)
        chat = wire.to_canonical(require_max_tokens=False, extensions=extensions)
    else:
        chat = validate(ChatCompletionRequest, data).to_canonical()
    gateway, admission, cached = request.app[GATEWAY], admission_for(request), request.app.get(CACHE)
    if not chat.stream:
        if cached is not None:
            result, charge = await cached.complete(chat, key, scope=CHAT, admission=admission, cache=ask)
        else:
            result, charge = await gateway.complete(chat, key, scope=CHAT, admission=admission)
        body = completion_body(result, charge, completion_id=new_completion_id(), created=int(time.time()))
        return web.Response(body=body, content_type="application/json")

    if cached is not None:
        events = cached.stream(chat, key, scope=CHAT, admission=admission, cache=ask)
    else:
        events = gateway.stream(chat, key, scope=CHAT, admission=admission)
    return await send_stream(
        request,
        events,
        lambda model: ChunkRenderer(model=model or chat.model, include_usage=chat.include_usage),
        relay=ChunkRenderer.relayed,
    )
