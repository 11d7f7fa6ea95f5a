"""A streamed chat completion from an OpenAI-compatible upstream, read into canonical events.

Usage may come in a ``choices: []`` chunk, on the finish chunk or in its choice (Moonshot), with
or without ``[DONE]``; Anthropic models behind an OpenAI wire repeat the finish chunk (the service's docs, sections
"Streaming (SSE) on /v1/chat/completions" and "Streaming termination"). A stream that ends before
every choice finished raises ``UpstreamError``: a truncated answer never passes for a finished one.

``stream_events`` reads the upstream's body as it arrives. Its events that ``ChunkRelay`` can pass
on as received become ``RelayedChunks`` (``relay.py``); every other one is decoded by
``ChunkDecoder``. Whatever one read produced, each output that others follow is preceded by
``MORE_BUFFERED``, so that the client connection gets it in one write.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest
from unigate.core.results import ChoiceDelta, StreamEvent, StreamStart, ToolCallDelta, Usage
from unigate.errors import GatewayError, UpstreamError
from unigate.providers.estimate import estimated_usage
from unigate.providers.openai_compat.relay import ChunkRelay, RelayedChunks
from unigate.providers.openai_compat.response import (
    arguments_json,
    finish_reason,
    int_or_zero,
    matched_stop,
    parse_logprobs,
    parse_usage,
    text_or_none,
)
from unigate.providers.openai_compat.web_search import perplexity_citations, sources, url_citations
from unigate.providers.sse import SseDecoder, SseEvent, marked

__all__ = ["ChunkDecoder", "ChunkReader", "stream_events"]

ErrorEvent = Callable[[bytes], GatewayError]
"""The typed error for an ``error`` event the upstream sent in its stream (its JSON text)."""


class ChunkDecoder:
    """``chat.completion.chunk`` payloads to canonical stream events, one chunk at a time."""

    def __init__(self, *, fallback_model: str, stops: tuple[str, ...] = (), citations: bool = False) -> None:
        self.fallback_model = fallback_model
        self.stops = stops
        """The caller's stop sequences, to name the one a finish chunk says matched."""
        self.texts: dict[int, list[str]] | None = {} if citations else None
        """Each choice's text so far, kept when the stream's sources come apart from it (Perplexity's
        ``search_results``): its ``[n]`` markers become annotations when the choice finishes."""
        self.sources: list[tuple[str, str]] = []
        self.started = False
        self.seen: set[int] = set()
        self.finished: set[int] = set()
        self.usage: Usage | None = None
        self.generated = 0
        """UTF-8 bytes of generated text, for an estimate when no usage comes."""

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if self.texts is not None:
            self.sources = sources(chunk) or self.sources
        if not self.started:
            self.started = True
            events.append(StreamStart(str(chunk.get("model") or self.fallback_model)))
        for position, raw in enumerate(chunk.get("choices") or ()):
            index = int_or_zero(raw.get("index")) if "index" in raw else position
            if index in self.finished:
                continue  # Anthropic-via-OpenAI repeats the finish chunk
            self.seen.add(index)
            delta = raw.get("delta") or {}
            content = text_or_none(delta.get("content"))
            reasoning = text_or_none(delta.get("reasoning_content")) or text_or_none(delta.get("reasoning"))
            raw_calls = delta.get("tool_calls")
            calls = (
                tuple(
                    ToolCallDelta(
                        index=int_or_zero(c.get("index")) if "index" in c else i,
                        id=text_or_none(c.get("id")),
                        name=text_or_none((c.get("function") or {}).get("name")),
                        arguments=arguments_json((c.get("function") or {}).get("arguments") or ""),
                    )
                    for i, c in enumerate(raw_calls)
                )
                if raw_calls
                else ()
            )
            raw_logprobs = raw.get("logprobs")
            logprobs = parse_logprobs(raw_logprobs) if raw_logprobs else None
            reason = finish_reason(raw.get("finish_reason"))
            if content:
                self.generated += len(content.encode())
            if reasoning:
                self.generated += len(reasoning.encode())
            for call in calls:
                self.generated += len(call.arguments.encode())
            cited = url_citations(delta.get("annotations"))
            if self.texts is not None:
                text = self.texts.setdefault(index, [])
                text.append(content or "")
                if reason is not None and self.sources:
                    cited = perplexity_citations("".join(text), self.sources)
            if content or reasoning or calls or logprobs or reason or cited:
                stop = matched_stop(raw, self.stops) if reason == "stop" else None
                events.append(ChoiceDelta(index, content, reasoning, calls, logprobs, reason, stop, cited))
            if reason is not None:
                self.finished.add(index)
            if isinstance(raw.get("usage"), dict):  # Moonshot reports it in the finishing choice
                self.usage = parse_usage(raw["usage"])
        raw_usage = chunk.get("usage")
        if raw_usage is not None and (usage := parse_usage(raw_usage)) is not None:
            self.usage = usage
        return events

    def relayed(self, chunks: RelayedChunks) -> None:
        """``chunks`` of choice 0 went to the client as received (``relay.py``)."""
        self.seen.add(0)
        self.generated += chunks.text_bytes()

    def complete(self) -> bool:
        """Whether every choice that started also finished."""
        return bool(self.finished) and self.seen <= self.finished


class ChunkReader:
    """One stream's body to canonical events, one upstream read at a time (see the module)."""

    def __init__(self, decoder: ChunkDecoder, *, provider: str, error_event: ErrorEvent, relay: bool) -> None:
        self.decoder = decoder
        self.provider = provider
        self.error_event = error_event
        self._relay = ChunkRelay() if relay else None
        self._reads: ChunkRelay | SseDecoder = self._relay or SseDecoder()
        self.done = False
        """Whether ``[DONE]`` came."""

    def events(self, chunk: bytes | None) -> Iterator[StreamEvent]:
        """The events of one upstream read (``chunk``; ``None`` at the end of the body), each that
        others follow in that read preceded by ``MORE_BUFFERED``, up to ``[DONE]`` (then ``done``)."""
        items: Sequence[RelayedChunks | SseEvent] = self._reads.close() if chunk is None else self._reads.feed(chunk)
        last = len(items) - 1
        for i, item in enumerate(items):
            events = self._read(item)
            if events is None:
                self.done = True
                return
            yield from marked(events, more=i < last)

    def _read(self, item: RelayedChunks | SseEvent) -> Sequence[StreamEvent] | None:
        """The events of one item; ``None`` for ``[DONE]``, where the stream ends."""
        if isinstance(item, RelayedChunks):
            self.decoder.relayed(item)
            return (item,)
        events = self._decode(item.data)
        if self._relay is not None and self.decoder.finished:
            self._relay.decode_all()  # what follows a finish is checked, as without the relay
        return events

    def _decode(self, data: str) -> list[StreamEvent] | None:
        if data.strip() == "[DONE]":
            return None
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(f"The {self.provider} provider sent a malformed stream chunk.") from exc
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk and not chunk.get("choices"):
            raise self.error_event(data.encode())
        return self.decoder.feed(chunk)


async def stream_events(
    chunks: AsyncGenerator[bytes, None],
    request: ChatRequest,
    model: ModelSpec,
    *,
    provider: str,
    error_event: ErrorEvent,
    relay: bool = True,
    citations: bool = False,
) -> AsyncGenerator[StreamEvent, None]:
    """The canonical events of a streamed answer's body (``chunks``, closed when this is), up to
    ``[DONE]`` or the end of the body, then the usage (estimated if the upstream reported none).
    ``relay``: the events that ``ChunkRelay`` can pass on come as ``RelayedChunks``; ``citations``:
    the stream's sources come apart from its text (Perplexity), which is then decoded whole."""
    decoder = ChunkDecoder(fallback_model=model.upstream_model, stops=request.sampling.stop, citations=citations)
    reader = ChunkReader(decoder, provider=provider, error_event=error_event, relay=relay and not citations)
    async with aclosing(chunks) as body:
        async for chunk in body:
            for event in reader.events(chunk):
                yield event
            if reader.done:
                break
        else:
            for event in reader.events(None):
                yield event
    if not decoder.complete():
        raise UpstreamError(f"The {provider} provider's stream ended before the answer finished.")
    yield decoder.usage or estimated_usage(request, decoder.generated)
