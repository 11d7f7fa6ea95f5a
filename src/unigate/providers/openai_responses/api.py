"""``ResponsesApi``: the chat of a model served through OpenAI's Responses API, sent through the
``Upstream`` (deployment, key, transport, error table) of the provider that owns the model.

The OpenAI-compatible provider hands it the models whose catalog entry says
``upstream_api = "responses"``, so that every inbound API reaches them the same way as any other
model: the canonical request in, the canonical result or stream events out.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest
from unigate.core.results import ChatResult, StreamEvent
from unigate.errors import UpstreamError
from unigate.providers.estimate import estimated_usage, generated_bytes
from unigate.providers.http import Upstream
from unigate.providers.openai_responses.request import Reasoning, check_request, request_body
from unigate.providers.openai_responses.response import failure_body, parse_response
from unigate.providers.openai_responses.stream import ENDS, FAILURES, EventDecoder
from unigate.providers.replay import ReplayCache
from unigate.providers.sse import marked

__all__ = ["ResponsesApi"]

STREAM_ERROR_STATUS = {"rate_limit_exceeded": 429, "context_length_exceeded": 400}
"""The HTTP status that an error ``code`` in a 200 stream stands for; any other code is 502."""


def _stream_failure(data: dict[str, Any], raw: str) -> tuple[int, bytes]:
    """The status and error body of an ``error`` event (its ``error`` object, or the event itself
    in the API reference's older shape) or of ``response.failed`` (its response's ``error``)."""
    response = data.get("response")
    body = failure_body(response) if isinstance(response, dict) else raw.encode()
    error = response.get("error") if isinstance(response, dict) else data.get("error", data)
    code = error.get("code") if isinstance(error, dict) else None
    return STREAM_ERROR_STATUS.get(str(code), 502), body


class ResponsesApi:
    def __init__(
        self,
        upstream: Upstream,
        *,
        url: str,
        headers: Callable[[], Mapping[str, str]],
        replay: ReplayCache[Reasoning] | None = None,
    ) -> None:
        self.upstream = upstream
        self.url = url
        self.headers = headers
        self.replay: ReplayCache[Reasoning] = replay if replay is not None else ReplayCache()
        """Encrypted reasoning items under the ids of the tool calls they led to (``request.py``).
        An id this process does not know (another replica, a restart) sends the calls without
        their reasoning, which the API accepts: the model then reasons afresh."""

    def check(self, request: ChatRequest) -> None:
        check_request(request)

    def _remember(self, call_ids: list[str], reasoning: Reasoning) -> None:
        if reasoning:
            for call_id in call_ids:
                self.replay.put(call_id, reasoning)

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        body = request_body(request, model, stream=False, replay=self.replay)
        data = await self.upstream.post_json(self.url, headers=self.headers(), body=body)
        if isinstance(data, dict) and data.get("status") == "failed":
            raise self.upstream.error(502, failure_body(data))
        result, reasoning = parse_response(data)
        result.model = result.model or model.upstream_model
        if not isinstance(data.get("usage"), dict):
            result.usage = estimated_usage(request, generated_bytes(result))
        self._remember([c.id for c in result.choices[0].tool_calls], reasoning)
        return result

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncGenerator[StreamEvent, None]:
        body = request_body(request, model, stream=True, replay=self.replay)
        decoder = EventDecoder(fallback_model=model.upstream_model)
        async with aclosing(self.upstream.sse(self.url, headers=self.headers(), body=body)) as events:
            async for event in events:
                try:
                    data = orjson.loads(event.data)
                except orjson.JSONDecodeError as exc:
                    raise UpstreamError("The openai provider sent a malformed stream event.") from exc
                if not isinstance(data, dict):
                    continue
                kind = str(data.get("type") or event.event)
                if kind in FAILURES:
                    raise self.upstream.error(*_stream_failure(data, event.data))
                for out in marked(decoder.feed(kind, data), more=event.more):
                    yield out
                if kind in ENDS:
                    break
        if not decoder.finished:
            raise UpstreamError("The openai provider's stream ended before the response completed.")
        self._remember(decoder.call_ids, decoder.reasoning)
        yield decoder.usage or estimated_usage(request, decoder.generated)
