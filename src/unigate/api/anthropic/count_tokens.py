"""``POST /v1/messages/count_tokens`` and its alias ``/messages/count_tokens``: Anthropic's token
counting (https://docs.anthropic.com/en/api/messages-count-tokens) on every chat model, which
coding agents (Claude Code) call to watch their context.

The body is a Messages request without ``max_tokens`` (``model``, ``messages``, ``system``,
``tools``, ``tool_choice``, ``thinking``, ...), parsed by the same schema as ``/v1/messages``; the
answer is ``{"input_tokens": N}``. N depends on the model:

* a Claude model (the ``anthropic`` provider): Anthropic's own count of the request that
  ``/v1/messages`` would send it, exact;
* the embedded model: its tokenizer over the prompt its chat template renders, exact: what a
  reply to the same request reports as ``input_tokens``;
* every other model: the gateway's prompt estimate, an **upper bound** (about one token per byte
  of the prompt's text), never below what the upstream will count, often well above it.

Free, like Anthropic's (no credits reserved, no usage row), but one request against the key's
requests-per-minute limit (``core/token_count.py``). Authentication, scope (``model:chat``),
model lookup and errors are those of ``/v1/messages``, in Anthropic's shape.
"""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.scopes import CHAT
from unigate.api.anthropic.messages import require_anthropic_key, wire_names
from unigate.api.anthropic.schema import MessagesRequest
from unigate.api.context import GATEWAY
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.core.token_count import count_prompt_tokens

__all__ = ["count_tokens"]


async def count_tokens(request: web.Request) -> web.Response:
    key = await require_anthropic_key(request)
    data = await read_json(request)
    wire = validate(MessagesRequest, data)
    chat = wire.to_canonical(require_max_tokens=False, extensions=wire.extensions(data, request.headers))
    with wire_names():
        tokens = await count_prompt_tokens(
            request.app[GATEWAY], chat, key, scope=CHAT, admission=admission_for(request)
        )
    return web.json_response({"input_tokens": tokens})
