"""``POST /v1/completions`` and its alias ``/completions``: legacy text completions on every chat
model (see ``completions_schema.py`` for how a prompt reaches chat-only upstreams).

Each prompt is one gateway call (its own reservation and settlement, ``model:chat`` scope); an
array of prompts runs them one after the other and answers with every choice, the usage and
credits summed. A stream of several prompts streams them in turn.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from aiohttp import web

from unigate.accounts.scopes import CHAT
from unigate.accounts.store import ApiKey
from unigate.api.auth import require_key
from unigate.api.context import GATEWAY, STORE
from unigate.api.openai.completions.render import CompletionChunks, completion_body
from unigate.api.openai.completions.schema import CompletionsRequest
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.api.streaming import send_stream
from unigate.core.chat import ChatRequest
from unigate.core.gateway import Charge, Gateway
from unigate.core.results import (
    ChatResult,
    ChoiceDelta,
    MoreBuffered,
    Passthrough,
    StreamEvent,
    StreamStart,
    Usage,
)
from unigate.limits.window import Admission

__all__ = ["completions"]


async def completions(request: web.Request) -> web.StreamResponse:
    key = await require_key(request, request.app[STORE])
    wire = validate(CompletionsRequest, await read_json(request))
    chats = wire.to_canonical()
    gateway, admission = request.app[GATEWAY], admission_for(request)
    n = chats[0].n
    prompts = wire.prompts() if wire.echo else None
    if not wire.stream:
        results: list[ChatResult] = []
        credits = 0
        for chat in chats:
            result, charge = await gateway.complete(chat, key, scope=CHAT, admission=admission)
            results.append(result)
            credits += charge.credits
        body = completion_body(results, Charge(credits), prompts=prompts, n=n, model=wire.model)
        return web.Response(body=body, content_type="application/json")
    include_usage = chats[0].include_usage
    return await send_stream(
        request,
        _streams(gateway, chats, key, admission),
        lambda model: CompletionChunks(model=model or wire.model, include_usage=include_usage, prompts=prompts, n=n),
    )


async def _streams(
    gateway: Gateway, chats: list[ChatRequest], key: ApiKey, admission: Admission
) -> AsyncGenerator[StreamEvent | Charge, None]:
    """The prompts' streams one after the other as one: choices renumbered ``i * n + j``, then
    the summed usage and charge."""
    usage = Usage()
    credits = 0
    for i, chat in enumerate(chats):
        async with aclosing(gateway.stream(chat, key, scope=CHAT, admission=admission)) as events:
            async for event in events:
                if isinstance(event, StreamStart):
                    if i == 0:
                        yield event
                elif isinstance(event, ChoiceDelta):
                    yield replace(event, index=i * chat.n + event.index)
                elif isinstance(event, Passthrough) and i:  # renumbered: the deltas it stands for
                    for delta in event.deltas():
                        yield replace(delta, index=i * chat.n + delta.index)
                elif isinstance(event, Passthrough | MoreBuffered):
                    yield event
                elif isinstance(event, Usage):
                    usage.prompt_tokens += event.prompt_tokens
                    usage.completion_tokens += event.completion_tokens
                elif isinstance(event, Charge):
                    credits += event.credits
    yield usage
    yield Charge(credits)
