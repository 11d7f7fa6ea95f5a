"""``POST /v1/chat/completions`` and its alias ``/chat/completions``: parse, call the gateway, render.

A body in Anthropic's style (the seeds document one for Claude models, seed-survey §2.2) is read
with the Messages API's translation (``api/anthropic/schema.py``) and answered in the OpenAI shape.
"""

from __future__ import annotations

import time
from contextlib import aclosing

import orjson
from aiohttp import web

from unigate.accounts.scopes import CHAT
from unigate.api.anthropic.schema import MessagesRequest, is_anthropic_style
from unigate.api.auth import require_key
from unigate.api.context import GATEWAY, STORE
from unigate.api.openai.chat_render import ChunkRenderer, completion_body, new_completion_id
from unigate.api.openai.chat_schema import ChatCompletionRequest
from unigate.api.requests import read_json, validate
from unigate.core.gateway import Charge
from unigate.core.results import ChoiceDelta, StreamStart, Usage
from unigate.errors import GatewayError

__all__ = ["chat_completions"]

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    key = await require_key(request, request.app[STORE])
    data = await read_json(request)
    if is_anthropic_style(data):
        chat = validate(MessagesRequest, data).to_canonical(require_max_tokens=False)
    else:
        chat = validate(ChatCompletionRequest, data).to_canonical()
    gateway = request.app[GATEWAY]
    if not chat.stream:
        result, charge = await gateway.complete(chat, key, scope=CHAT)
        body = completion_body(result, charge, completion_id=new_completion_id(), created=int(time.time()))
        return web.Response(body=body, content_type="application/json")

    async with aclosing(gateway.stream(chat, key, scope=CHAT)) as events:
        # Errors up to the first generated delta still get a proper HTTP status: nothing is sent
        # before it (a queued request waits here).
        model = chat.model
        first: ChoiceDelta | None = None
        event: object = None
        async for event in events:
            if isinstance(event, StreamStart):
                model = event.model
            elif isinstance(event, ChoiceDelta):
                first = event
                break
            else:
                break  # a stream with no delta at all: the usage and charge follow
        renderer = ChunkRenderer(model=model, include_usage=chat.include_usage)
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        usage: Usage | None = event if isinstance(event, Usage) else None
        try:
            if first is not None:
                await response.write(renderer.delta(first))
            async for event in events:
                if isinstance(event, ChoiceDelta):
                    await response.write(renderer.delta(event))
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, Charge):
                    await response.write(renderer.end(usage, event))
        except GatewayError as err:
            # Headers are gone: end the stream with an error event (the OpenAI SDKs raise on it),
            # never with [DONE], so that a truncated answer cannot pass for a finished one.
            await response.write(b"data: " + orjson.dumps(err.body()) + b"\n\n")
        except ConnectionResetError:
            pass  # the client left; closing the events below settles what was generated
        return response
