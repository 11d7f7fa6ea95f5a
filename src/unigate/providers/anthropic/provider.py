"""``AnthropicProvider``: Anthropic's Messages API behind the ``Provider`` protocol.

``check`` builds the request, so what Claude cannot honour fails before credits are reserved. The
signed thinking blocks of an answer that calls tools are kept here (``replay.py``), under the tool
call ids, until the client sends the tool results back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core import field_policy
from unigate.core.chat import ChatRequest, Dialect
from unigate.core.results import ChatResult, StreamEvent
from unigate.errors import UpstreamError
from unigate.providers.anthropic.count import count_tokens
from unigate.providers.anthropic.errors import parse_error
from unigate.providers.anthropic.request import request_body
from unigate.providers.anthropic.response import Blocks, parse_message, usage
from unigate.providers.anthropic.stream import EventDecoder
from unigate.providers.config import ProviderConfig
from unigate.providers.estimate import estimated_usage, generated_bytes, prompt_tokens_upper_bound
from unigate.providers.http import Upstream
from unigate.providers.replay import ReplayCache
from unigate.providers.sse import marked
from unigate.providers.transport import Transport, build_transport

__all__ = ["API_VERSION", "AnthropicProvider"]

API_VERSION = "2023-06-01"


class AnthropicProvider:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        replay: ReplayCache[Blocks] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.upstream = Upstream(config, parse_error=parse_error, transport=transport or build_transport())
        self.replay: ReplayCache[Blocks] = replay if replay is not None else ReplayCache()

    async def start(self) -> None:
        await self.upstream.start()

    async def close(self) -> None:
        await self.upstream.close()

    def speaks(self, request: ChatRequest, model: ModelSpec) -> Dialect:
        return "anthropic"

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        if not field_policy.as_written(request.extensions, "anthropic"):  # a client's own body is Claude's to judge
            request_body(request, model, stream=request.stream, replay=self.replay)

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return prompt_tokens_upper_bound(request)

    async def count_tokens(self, request: ChatRequest, model: ModelSpec) -> int | None:
        """Anthropic's own count of the request ``complete`` would send (``count.py``)."""
        url = f"{self.config.base_url}/v1/messages/count_tokens"
        return await count_tokens(self.upstream, url, self._headers(request), request, model, replay=self.replay)

    def _url(self) -> str:
        return f"{self.config.base_url}/v1/messages"

    def _headers(self, request: ChatRequest) -> dict[str, str]:
        headers = {"x-api-key": self.config.api_key or "", "anthropic-version": API_VERSION}
        ext = request.extensions
        if ext is not None and ext.dialect == "anthropic" and (beta := ext.headers.get("anthropic-beta")):
            headers["anthropic-beta"] = beta  # the client's betas, for the fields sent on with them
        return headers

    def _remember(self, tool_ids: list[str], signed: Blocks) -> None:
        if signed:
            for tool_id in tool_ids:
                self.replay.put(tool_id, signed)

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        body = request_body(request, model, stream=False, replay=self.replay)
        data = await self.upstream.post_json(self._url(), headers=self._headers(request), body=body)
        result, signed = parse_message(data)
        result.model = result.model or model.upstream_model
        if not isinstance(data.get("usage"), dict):
            result.usage = estimated_usage(request, generated_bytes(result))
        self._remember([c.id for c in result.choices[0].tool_calls], signed)
        return result

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        body = request_body(request, model, stream=True, replay=self.replay)
        decoder = EventDecoder(fallback_model=model.upstream_model)
        async with aclosing(self.upstream.sse(self._url(), headers=self._headers(request), body=body)) as events:
            async for event in events:
                try:
                    data = orjson.loads(event.data)
                except orjson.JSONDecodeError as exc:
                    raise UpstreamError("The anthropic provider sent a malformed stream event.") from exc
                kind = str(data.get("type") or event.event) if isinstance(data, dict) else event.event
                if kind == "error":
                    raise self.upstream.error(502, event.data.encode())
                for out in marked(decoder.feed(kind, data if isinstance(data, dict) else {}), more=event.more):
                    yield out
                if decoder.finished:
                    break
        if not decoder.finished:
            raise UpstreamError("The anthropic provider's stream ended before message_stop.")
        self._remember(decoder.tool_ids, decoder.signed_blocks)
        yield usage(decoder.usage) if decoder.usage else estimated_usage(request, decoder.generated)
