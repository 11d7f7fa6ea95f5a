"""Upstreams that speak OpenAI Chat Completions: OpenAI itself, DeepSeek, xAI, Mistral, Qwen,
Together, Groq, OpenRouter, ... and self-hosted vLLM, SGLang, llama.cpp and Ollama.

https://platform.openai.com/docs/api-reference/chat

The request carries only the fields the client set. Streams always ask for
``stream_options.include_usage`` so that usage can be billed. Responses vary by upstream
(seed-survey §2.3, §2.3a, §7.5): ``reasoning_content`` (DeepSeek, Qwen) or ``reasoning``
(OpenRouter) become ``Choice.reasoning``; usage may come in a ``choices: []`` chunk or on the
finish chunk, with or without ``[DONE]``; Anthropic models behind an OpenAI wire repeat the finish
chunk and say ``end_turn``. A stream that ends before every choice finished raises
``UpstreamError``: a truncated answer never passes for a finished one.

Embeddings (``POST {base_url}/embeddings``, https://platform.openai.com/docs/api-reference/embeddings)
go through the same upstream: inputs, ``dimensions`` and ``user`` as sent, vectors asked as floats
(which every compatible server writes; base64 answers are read too), ``usage.prompt_tokens`` as
reported, else the input's UTF-8 bytes (a bound for every byte-level tokenizer).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    ChatRequest,
    ContentPart,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCall,
)
from unigate.core.embeddings import EmbeddingRequest, EmbeddingResult
from unigate.core.results import (
    ChatResult,
    Choice,
    ChoiceDelta,
    FinishReason,
    RelayedFrames,
    StreamEvent,
    StreamStart,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from unigate.errors import UpstreamError
from unigate.primitives.ids import hex_id
from unigate.providers.config import ProviderConfig
from unigate.providers.estimate import estimated_usage, generated_bytes, prompt_tokens_upper_bound
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.openai_relay import ChunkRelay
from unigate.providers.sse import marked
from unigate.providers.transport import Transport, build_transport

__all__ = [
    "FINISH_REASONS",
    "ChunkDecoder",
    "Dialect",
    "OpenAICompatProvider",
    "parse_completion",
    "parse_embeddings",
    "parse_error",
    "parse_usage",
    "request_body",
]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "function_call",
    # Values that OpenAI-compatible upstreams pass through from the models' native APIs:
    "end_turn": "stop",  # Anthropic behind an OpenAI wire (seed-survey §2.3, F6)
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "eos": "stop",  # Together AI
}
"""Every other value becomes ``"unknown"``: never guessed as ``stop``."""


def finish_reason(value: Any) -> FinishReason | None:
    if value is None:
        return None
    return FINISH_REASONS.get(str(value), "unknown")


@dataclass(frozen=True, slots=True)
class Dialect:
    """Where OpenAI's own API and its imitators differ in what they accept."""

    developer_role: bool = False
    """Most compatibles know only ``system``; OpenAI's reasoning models want ``developer``."""
    max_tokens_field: str = "max_tokens"
    """OpenAI deprecated ``max_tokens`` (its o-series reject it); most compatibles know only it."""

    @staticmethod
    def of(provider: str) -> Dialect:
        if provider == "openai":
            return Dialect(developer_role=True, max_tokens_field="max_completion_tokens")
        return Dialect()


# ---- request -----------------------------------------------------------------------------------


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    file = {
        k: v for k, v in (("file_data", part.file_data), ("filename", part.filename), ("file_id", part.file_id)) if v
    }
    return {"type": "file", "file": file}


def _content(parts: tuple[ContentPart, ...]) -> str | list[dict[str, Any]]:
    # Text alone goes as one string: several compatibles (DeepSeek, Baidu) reject part arrays.
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text  # the common case, without generators
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return [_part(p) for p in parts]


def _message(m: Message, dialect: Dialect) -> dict[str, Any]:
    role = "system" if m.role == "developer" and not dialect.developer_role else m.role
    out: dict[str, Any] = {"role": role}
    if m.role == "assistant":
        text = m.text()
        out["content"] = text if text or not m.tool_calls else None
        if m.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
    else:
        out["content"] = _content(m.content)
    if m.role == "tool":
        out["tool_call_id"] = m.tool_call_id
    if m.name is not None:
        out["name"] = m.name
    return out


def request_body(request: ChatRequest, model: ModelSpec, *, dialect: Dialect, stream: bool) -> dict[str, Any]:
    """The upstream's request: ``model.upstream_model`` and only the fields the client set."""
    body: dict[str, Any] = {
        "model": model.upstream_model,
        "messages": [_message(m, dialect) for m in request.messages],
    }
    s = request.sampling
    optional: dict[str, Any] = {
        dialect.max_tokens_field: request.max_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "min_p": s.min_p,
        "repetition_penalty": s.repetition_penalty,
        "frequency_penalty": s.frequency_penalty,
        "presence_penalty": s.presence_penalty,
        "seed": s.seed,
        "stop": list(s.stop) or None,
        "logit_bias": {str(k): v for k, v in s.logit_bias.items()} if s.logit_bias else None,
        "n": request.n if request.n != 1 else None,
        "logprobs": True if request.logprobs else None,
        "top_logprobs": request.top_logprobs,
        "reasoning_effort": request.reasoning_effort,
        "parallel_tool_calls": request.parallel_tool_calls,
        "user": request.user,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    fmt = request.response_format
    if isinstance(fmt, JsonObjectFormat):
        body["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, JsonSchemaFormat):
        spec = {"name": fmt.name, "description": fmt.description, "schema": fmt.schema, "strict": fmt.strict}
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {k: v for k, v in spec.items() if v is not None},
        }
    if request.tools:
        body["tools"] = []
        for t in request.tools:
            fn = {"name": t.name, "description": t.description, "parameters": t.parameters, "strict": t.strict}
            body["tools"].append({"type": "function", "function": {k: v for k, v in fn.items() if v is not None}})
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        body["tool_choice"] = choice
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# ---- response ----------------------------------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: Any) -> Usage | None:
    """Usage as reported; ``total_tokens`` kept as is (it need not be prompt + completion)."""
    if not isinstance(raw, dict):
        return None
    completion_details = raw.get("completion_tokens_details") or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    cached = _int(prompt_details.get("cached_tokens")) or _int(raw.get("prompt_cache_hit_tokens"))  # DeepSeek
    total = raw.get("total_tokens")
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        total_tokens=total if isinstance(total, int) else None,
        reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
        cached_tokens=cached,
    )


def _top(raw: Any) -> TopLogprob:
    raw_bytes = raw.get("bytes")
    return TopLogprob(
        str(raw.get("token", "")), float(raw.get("logprob", 0.0)), tuple(raw_bytes) if raw_bytes else None
    )


def _logprobs(raw: Any) -> tuple[TokenLogprob, ...] | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("content"), list):
        return None
    out = []
    for item in raw["content"]:
        head = _top(item)
        tops = tuple(_top(t) for t in item.get("top_logprobs") or ())
        out.append(TokenLogprob(head.token, head.logprob, head.bytes, tops))
    return tuple(out)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value if value is not None else {}).decode()


def _tool_call(raw: Any) -> ToolCall:
    fn = raw.get("function") or {}
    call_id = _text(raw.get("id")) or "call_" + hex_id(12)
    return ToolCall(call_id, str(fn.get("name", "")), _arguments(fn.get("arguments")))


def parse_completion(data: Any) -> ChatResult:
    """A ``chat.completion`` body as the canonical result (``usage`` zero when not reported)."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise UpstreamError("The upstream answered without choices.")
    choices = []
    for position, raw in enumerate(data["choices"]):
        message = raw.get("message") or {}
        choices.append(
            Choice(
                index=_int(raw.get("index")) if "index" in raw else position,
                content=message.get("content") if isinstance(message.get("content"), str) else None,
                finish_reason=finish_reason(raw.get("finish_reason")) or "unknown",
                tool_calls=tuple(_tool_call(c) for c in message.get("tool_calls") or ()),
                reasoning=_text(message.get("reasoning_content")) or _text(message.get("reasoning")),
                refusal=_text(message.get("refusal")),
                logprobs=_logprobs(raw.get("logprobs")),
            )
        )
    return ChatResult(
        model=str(data.get("model") or ""),
        choices=choices,
        usage=parse_usage(data.get("usage")) or Usage(),
        system_fingerprint=_text(data.get("system_fingerprint")),
    )


class ChunkDecoder:
    """``chat.completion.chunk`` payloads to canonical stream events, one chunk at a time."""

    def __init__(self, *, fallback_model: str) -> None:
        self.fallback_model = fallback_model
        self.started = False
        self.seen: set[int] = set()
        self.finished: set[int] = set()
        self.usage: Usage | None = None
        self.generated = 0
        """UTF-8 bytes of generated text, for an estimate when no usage comes."""

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self.started:
            self.started = True
            events.append(StreamStart(str(chunk.get("model") or self.fallback_model)))
        for position, raw in enumerate(chunk.get("choices") or ()):
            index = _int(raw.get("index")) if "index" in raw else position
            if index in self.finished:
                continue  # Anthropic-via-OpenAI repeats the finish chunk (seed-survey §2.3a)
            self.seen.add(index)
            delta = raw.get("delta") or {}
            content = _text(delta.get("content"))
            reasoning = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
            raw_calls = delta.get("tool_calls")
            calls = (
                tuple(
                    ToolCallDelta(
                        index=_int(c.get("index")) if "index" in c else i,
                        id=_text(c.get("id")),
                        name=_text((c.get("function") or {}).get("name")),
                        arguments=_arguments((c.get("function") or {}).get("arguments") or ""),
                    )
                    for i, c in enumerate(raw_calls)
                )
                if raw_calls
                else ()
            )
            raw_logprobs = raw.get("logprobs")
            logprobs = _logprobs(raw_logprobs) if raw_logprobs else None
            reason = finish_reason(raw.get("finish_reason"))
            if content:
                self.generated += len(content.encode())
            if reasoning:
                self.generated += len(reasoning.encode())
            for call in calls:
                self.generated += len(call.arguments.encode())
            if content or reasoning or calls or logprobs or reason:
                events.append(ChoiceDelta(index, content, reasoning, calls, logprobs, reason))
            if reason is not None:
                self.finished.add(index)
        raw_usage = chunk.get("usage")
        if raw_usage is not None and (usage := parse_usage(raw_usage)) is not None:
            self.usage = usage
        return events

    def relayed(self, count: int) -> None:
        """``count`` events of choice 0 went to the client as received (``openai_relay.py``)."""
        self.seen.add(0)
        self.generated += 2 * count  # an event is about a token, which the estimate counts as 2 bytes

    def complete(self) -> bool:
        """Whether every choice that started also finished."""
        return bool(self.finished) and self.seen <= self.finished


def parse_error(body: bytes) -> UpstreamFailure:
    """OpenAI's ``{"error": {"message", "type", "param", "code"}}`` and the variants compatibles
    send: ``{"error": "text"}``, ``{"message": ...}`` (vLLM), ``{"detail": ...}`` (FastAPI)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return UpstreamFailure(body.decode(errors="replace").strip()[:200] or None)
    if not isinstance(data, dict):
        return UpstreamFailure(None)
    error = data.get("error", data)
    if isinstance(error, str):
        return UpstreamFailure(error)
    if not isinstance(error, dict):
        return UpstreamFailure(None)
    message = error.get("message") or error.get("detail")
    code = error.get("code")
    param = error.get("param")
    return UpstreamFailure(
        message=str(message) if message is not None else None,
        param=param if isinstance(param, str) else None,
        status=code if isinstance(code, int) and 400 <= code <= 599 else None,
    )


def parse_embeddings(data: Any, *, count: int) -> tuple[np.ndarray[Any, np.dtype[np.float32]], Usage | None]:
    """An embeddings ``list`` body: one float32 row per input in input order, and the usage."""
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) != count:
        raise UpstreamError("The upstream answered without one embedding per input.")
    rows: list[Any] = [None] * count
    for position, item in enumerate(items):
        index = item.get("index", position) if isinstance(item, dict) else None
        vector = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count:
            raise UpstreamError("The upstream sent an embedding with an invalid index.")
        if isinstance(vector, str):
            rows[index] = np.frombuffer(base64.b64decode(vector), dtype="<f4")
        elif isinstance(vector, list):
            rows[index] = np.asarray(vector, dtype=np.float32)
        else:
            raise UpstreamError("The upstream sent an embedding that is not a vector.")
    if any(r is None for r in rows) or len({len(r) for r in rows}) != 1:
        raise UpstreamError("The upstream's embeddings do not all have one length.")
    usage = data.get("usage")
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return np.vstack(rows).astype(np.float32), Usage(prompt, 0, prompt) if isinstance(prompt, int) else None


# ---- provider ----------------------------------------------------------------------------------


class OpenAICompatProvider:
    """One OpenAI-compatible upstream (``POST {base_url}/chat/completions``)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None) -> None:
        self.name = config.name
        self.config = config
        self.dialect = Dialect.of(config.name)
        self.upstream = Upstream(config, parse_error=parse_error, transport=transport or build_transport())

    async def start(self) -> None:
        await self.upstream.start()

    async def close(self) -> None:
        await self.upstream.close()

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        return None  # the upstream is the judge of what an OpenAI-wire request may contain

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return prompt_tokens_upper_bound(request)

    def _url(self) -> str:
        return f"{self.config.base_url}/chat/completions"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        body = request_body(request, model, dialect=self.dialect, stream=False)
        data = await self.upstream.post_json(self._url(), headers=self._headers(), body=body)
        result = parse_completion(data)
        result.model = result.model or model.upstream_model
        if not isinstance(data.get("usage"), dict):
            result.usage = estimated_usage(request, generated_bytes(result))
        return result

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        body = request_body(request, model, dialect=self.dialect, stream=True)
        decoder = ChunkDecoder(fallback_model=model.upstream_model)
        url, headers = self._url(), self._headers()
        if request.relay_chunks and request.n == 1:
            chunks = self.upstream.chunks(url, headers=headers, body=body)
            async with aclosing(self._relay(decoder, chunks)) as relayed:
                async for event in relayed:
                    yield event
        else:
            async with aclosing(self.upstream.sse(url, headers=headers, body=body)) as events:
                async for sse in events:
                    decoded = self._decode(decoder, sse.data)
                    if decoded is None:
                        break
                    for event in decoded:
                        yield event
        if not decoder.complete():
            raise UpstreamError(f"The {self.name} provider's stream ended before the answer finished.")
        yield decoder.usage or estimated_usage(request, decoder.generated)

    async def _relay(
        self, decoder: ChunkDecoder, chunks: AsyncGenerator[bytes, None]
    ) -> AsyncGenerator[StreamEvent, None]:
        """The stream's plain events as ``RelayedFrames``, the others decoded (``openai_relay.py``)."""
        relay = ChunkRelay()
        async with aclosing(chunks):
            async for chunk in chunks:
                for item in marked(relay.feed(chunk)):
                    if isinstance(item, RelayedFrames):
                        decoder.relayed(item.count)
                        yield item
                        continue
                    decoded = self._decode(decoder, item.data)
                    if decoded is None:
                        return
                    if decoder.finished:
                        relay.decode_all()  # what follows a finish is checked, as without the relay
                    for event in decoded:
                        yield event
            for sse in marked(relay.close()):
                decoded = self._decode(decoder, sse.data)
                if decoded is None:
                    return
                for event in decoded:
                    yield event

    def _decode(self, decoder: ChunkDecoder, data: str) -> list[StreamEvent] | None:
        """The events of one server-sent event's ``data``; ``None`` for ``[DONE]``."""
        if data.strip() == "[DONE]":
            return None
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(f"The {self.name} provider sent a malformed stream chunk.") from exc
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk and not chunk.get("choices"):
            raise self.upstream.error(502, data.encode())
        return decoder.feed(chunk)

    # ---- embeddings (the ``Embedder`` capability, providers/embeddings/base.py) ------------------

    def check_embedding(self, request: EmbeddingRequest, model: ModelSpec) -> None:
        return None  # the upstream judges dimensions and input lengths

    def estimate_embedding_tokens(self, request: EmbeddingRequest, model: ModelSpec) -> int:
        return sum(len(i.encode()) + 1 if isinstance(i, str) else len(i) for i in request.inputs)

    async def embed(self, request: EmbeddingRequest, model: ModelSpec) -> EmbeddingResult:
        body: dict[str, Any] = {
            "model": model.upstream_model,
            "input": [i if isinstance(i, str) else list(i) for i in request.inputs],
            "encoding_format": "float",
        }
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.user is not None:
            body["user"] = request.user
        url = f"{self.config.base_url}/embeddings"
        data = await self.upstream.post_json(url, headers=self._headers(), body=body)
        vectors, usage = parse_embeddings(data, count=len(request.inputs))
        reported = data.get("model") if isinstance(data, dict) else None
        return EmbeddingResult(
            model=str(reported or model.upstream_model),
            vectors=vectors,
            usage=usage or Usage(self.estimate_embedding_tokens(request, model), 0),
        )
