"""The Playground: chat with any available model, streamed, with the tokens and credits of each
answer.

The browser never holds a key. Its script posts the conversation to ``POST /console/api/chat``
with the session cookie and the CSRF token; the console runs it through the gateway (rate
limits, credit reservation, settlement, the usage ledger: exactly what ``/v1/chat/completions``
does) with the session's API key, or, in a management session, with the key chosen in the page
(the management key itself is no API key and spends nothing). The answer streams back as
OpenAI ``chat.completion.chunk`` events, the last with ``usage`` and ``meta.usage``, exactly as
``/v1/chat/completions`` streams it. The Speech tab (``speech.py``) speaks a text and transcribes
an upload the same way.
"""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.scopes import CHAT
from unigate.api.context import GATEWAY
from unigate.api.openai.chat.render import ChunkRenderer
from unigate.api.openai.chat.schema import ChatCompletionRequest
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.api.streaming import send_stream
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.console.models import catalog_rows
from unigate.console.render import page, signed_in
from unigate.console.speech import speech_page
from unigate.console.spending import api_session, spendable_keys, spending_key

__all__ = ["chat", "playground_page"]

_FIELDS = ("model", "messages", "temperature", "max_tokens")
"""What the playground may set; everything else of the chat API is left at its default."""


async def playground_page(request: web.Request) -> web.StreamResponse:
    """``GET /console/playground``: the Chat tab; ``?tab=speech`` is the Speech tab (``speech.py``)."""
    if request.query.get("tab") == "speech":
        return await speech_page(request)
    session = await signed_in(request)
    chat_models = [r.spec for r in catalog_rows(request) if r.available and r.spec.type == "chat-completion"]
    ids = [m.id for m in chat_models]
    wanted = request.query.get("model", "")
    selected = wanted if wanted in ids else LOCAL_CHAT_MODEL_ID if LOCAL_CHAT_MODEL_ID in ids else ids[0] if ids else ""
    keys = await spendable_keys(request, session)
    return page(
        request, "playground.html", session=session, tab="chat", models=chat_models, selected=selected, keys=keys
    )


async def chat(request: web.Request) -> web.StreamResponse:
    """``POST /console/api/chat``: ``{model, messages, temperature?, max_tokens?, key?}``, where
    ``key`` is the prefix of the key to spend from (management sessions only)."""
    session = await api_session(request)
    body = await read_json(request)
    key = await spending_key(request, session, body.get("key"))
    wire = {name: body[name] for name in _FIELDS if body.get(name) is not None}
    wire |= {"stream": True, "stream_options": {"include_usage": True}}
    request_ = validate(ChatCompletionRequest, wire).to_canonical()
    events = request.config_dict[GATEWAY].stream(request_, key, scope=CHAT, admission=admission_for(request))
    # The same chunks as /v1/chat/completions, always with the usage frame (tokens and credits).
    return await send_stream(
        request, events, lambda model: ChunkRenderer(model=model or request_.model, include_usage=True)
    )
