"""Anthropic's Messages API, natively (``POST {base_url}/v1/messages``).

https://docs.anthropic.com/en/api/messages, https://docs.anthropic.com/en/api/messages-streaming

Translation, request side: ``system``/``developer`` messages become the top-level ``system``;
images become ``base64`` or ``url`` sources; PDF and plain-text files become ``document`` blocks;
``tool`` messages become ``tool_result`` blocks of a user turn (consecutive turns of one role are
merged, as the API wants them alternating); assistant ``tool_calls`` become ``tool_use`` blocks.
``max_tokens`` is required: the request's, else the model's ``max_output``, else 4096.

``reasoning_effort`` becomes ``thinking: {type: enabled, budget_tokens}`` with a budget of 20 %
(low), 50 % (medium) or 80 % (high) of ``max_tokens``, at least 1024 and below ``max_tokens`` (so
``max_tokens: 1025`` gives the documented minimum, seed-survey F7). Like OpenAI's
``max_completion_tokens``, Anthropic's ``max_tokens`` counts the thinking too.

Thinking blocks come back as ``Choice.reasoning``. Their signatures stay on this server: when the
answer calls tools, the signed blocks are kept under the tool call ids (``replay.py``) and put back
at the head of that assistant turn when the client sends the tool results, as Anthropic requires
during a tool loop. If they are unknown there (another process, a restart), the request is sent
without ``thinking``: Claude finishes the tool loop without extended thinking instead of failing.

What Anthropic cannot honour is refused in ``check`` (before credits are reserved): ``n`` > 1,
``logprobs``, penalties, ``seed``, ``logit_bias``, ``min_p``, ``repetition_penalty``,
``response_format``, ``temperature`` above 1, and the sampling and forced-tool combinations that
extended thinking rejects. ``strict`` on tools is not sent (the Messages API has no such field).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    ChatRequest,
    ContentPart,
    FilePart,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCall,
)
from unigate.core.results import (
    ChatResult,
    Choice,
    ChoiceDelta,
    FinishReason,
    StreamEvent,
    StreamStart,
    ToolCallDelta,
    Usage,
)
from unigate.errors import InvalidRequest, UnsupportedContent, UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.estimate import estimated_usage, generated_bytes, prompt_tokens_upper_bound
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media import Inline, file_source, image_source
from unigate.providers.replay import ReplayCache
from unigate.providers.sse import marked

__all__ = [
    "API_VERSION",
    "ERROR_STATUS",
    "STOP_REASONS",
    "AnthropicProvider",
    "EventDecoder",
    "parse_error",
    "parse_message",
    "request_body",
    "thinking_budget",
]

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
THINKING_SHARE = {"low": 0.2, "medium": 0.5, "high": 0.8}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "unknown",  # a server tool paused the turn: the answer is not finished
}
"""Every other value becomes ``"unknown"``."""

ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""https://docs.anthropic.com/en/api/errors: the same failure maps to the same error whether it
came as an HTTP status or as an ``error`` event inside a 200 stream."""

Blocks = tuple[dict[str, Any], ...]
"""Signed ``thinking`` / ``redacted_thinking`` blocks exactly as Anthropic sent them."""


# ---- request -----------------------------------------------------------------------------------


def thinking_budget(effort: str, max_tokens: int) -> int:
    if max_tokens <= MIN_THINKING_BUDGET:
        raise InvalidRequest(
            f"reasoning_effort needs max_completion_tokens above {MIN_THINKING_BUDGET} on this model.",
            param="max_completion_tokens",
        )
    return min(max(MIN_THINKING_BUDGET, int(max_tokens * THINKING_SHARE[effort])), max_tokens - 1)


def _refuse_unsupported(request: ChatRequest) -> None:
    s = request.sampling
    unsupported = {
        "n": request.n != 1,
        "logprobs": request.logprobs,
        "frequency_penalty": s.frequency_penalty is not None,
        "presence_penalty": s.presence_penalty is not None,
        "seed": s.seed is not None,
        "logit_bias": s.logit_bias is not None,
        "min_p": s.min_p is not None,
        "repetition_penalty": s.repetition_penalty is not None,
        "response_format": isinstance(request.response_format, JsonObjectFormat | JsonSchemaFormat),
    }
    for param, used in unsupported.items():
        if used:
            raise UnsupportedParameter(f"Anthropic models do not support {param}.", param=param)
    if s.temperature is not None and s.temperature > 1:
        raise InvalidRequest("temperature must be between 0 and 1 on Anthropic models.", param="temperature")
    if request.reasoning_effort is None:
        return
    if s.temperature is not None and s.temperature != 1:
        raise UnsupportedParameter("temperature cannot be changed together with reasoning_effort.", param="temperature")
    if s.top_k is not None:
        raise UnsupportedParameter("top_k cannot be used together with reasoning_effort.", param="top_k")
    if s.top_p is not None and s.top_p < 0.95:
        raise UnsupportedParameter("With reasoning_effort, top_p must be at least 0.95.", param="top_p")
    choice = request.tool_choice
    if choice == "required" or isinstance(choice, NamedToolChoice):
        raise UnsupportedParameter("Forcing a tool call cannot be combined with reasoning_effort.", param="tool_choice")


def _image(part: ImagePart, param: str) -> dict[str, Any]:
    source = image_source(part, param)
    if isinstance(source, Inline):
        if source.media_type not in IMAGE_TYPES:
            raise UnsupportedContent(
                f"Anthropic models read JPEG, PNG, GIF and WebP, not {source.media_type}.", param=param
            )
        return {"type": "image", "source": {"type": "base64", "media_type": source.media_type, "data": source.data}}
    return {"type": "image", "source": {"type": "url", "url": source.url}}


def _document(part: FilePart, param: str) -> dict[str, Any]:
    source = file_source(part, param)
    block: dict[str, Any]
    if source.media_type == "application/pdf":
        block = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": source.data}}
    elif source.media_type == "text/plain":
        try:
            text = base64.b64decode(source.data, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UnsupportedContent("The text file is not valid base64 UTF-8.", param=param) from exc
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
    else:
        raise UnsupportedContent(
            f"Anthropic models read PDF and plain text files, not {source.media_type}.", param=param
        )
    if part.filename:
        block["title"] = part.filename
    return block


def _user_blocks(parts: tuple[ContentPart, ...], i: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(parts):
        param = f"messages[{i}].content[{j}]"
        if isinstance(part, TextPart):
            if part.text:  # Anthropic rejects empty text blocks
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image(part, param))
        else:
            blocks.append(_document(part, param))
    return blocks


def _tool_input(call: ToolCall, param: str) -> Any:
    try:
        value = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=param) from exc
    if not isinstance(value, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=param)
    return value


@dataclass(slots=True)
class _Conversation:
    system: list[str] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    open_loop_signed: bool | None = None
    """Whether the last assistant turn with tool calls, if the conversation is still inside its
    tool loop, got its signed thinking blocks back (``None``: no open tool loop)."""


def _conversation(messages: tuple[Message, ...], replay: ReplayCache[Blocks], *, thinking: bool) -> _Conversation:
    """The turns; signed thinking blocks go back only when this request thinks too."""
    conv = _Conversation()
    for i, m in enumerate(messages):
        if m.role in ("system", "developer"):
            conv.system.append(m.text())
            continue
        if m.role == "assistant":
            role = "assistant"
            signed = replay.get(m.tool_calls[0].id) if m.tool_calls else None
            blocks: list[dict[str, Any]] = list(signed or ()) if thinking else []
            if m.text():
                blocks.append({"type": "text", "text": m.text()})
            for k, call in enumerate(m.tool_calls):
                param = f"messages[{i}].tool_calls[{k}].function.arguments"
                blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call, param)})
            conv.open_loop_signed = (signed is not None) if m.tool_calls else None
        elif m.role == "tool":
            role = "user"
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id}
            if m.text():
                result["content"] = m.text()
            blocks = [result]
        else:
            role = "user"
            blocks = _user_blocks(m.content, i)
            conv.open_loop_signed = None  # a new user turn closes any tool loop
        if conv.turns and conv.turns[-1]["role"] == role:
            conv.turns[-1]["content"].extend(blocks)
        else:
            conv.turns.append({"role": role, "content": blocks})
    return conv


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    out: dict[str, Any] | None
    if isinstance(choice, NamedToolChoice):
        out = {"type": "tool", "name": choice.name}
    elif choice is None:
        out = None
    else:
        out = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]}
    if request.parallel_tool_calls is False and choice != "none":
        out = (out or {"type": "auto"}) | {"disable_parallel_tool_use": True}
    return out


def request_body(
    request: ChatRequest, model: ModelSpec, *, stream: bool, replay: ReplayCache[Blocks] | None = None
) -> dict[str, Any]:
    """The Messages API request; raises what Anthropic cannot honour (see the module docstring)."""
    _refuse_unsupported(request)
    max_tokens = request.max_tokens or model.max_output or DEFAULT_MAX_TOKENS
    thinking = request.reasoning_effort is not None
    conv = _conversation(request.messages, replay if replay is not None else ReplayCache(), thinking=thinking)
    body: dict[str, Any] = {"model": model.upstream_model, "max_tokens": max_tokens, "messages": conv.turns}
    if conv.system:
        body["system"] = "\n\n".join(conv.system)
    if request.reasoning_effort is not None:
        budget = thinking_budget(request.reasoning_effort, max_tokens)
        if conv.open_loop_signed is not False:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    s = request.sampling
    for key, value in (("temperature", s.temperature), ("top_p", s.top_p), ("top_k", s.top_k)):
        if value is not None:
            body[key] = value
    if s.stop:
        body["stop_sequences"] = list(s.stop)
    if request.tools:
        body["tools"] = []
        for t in request.tools:
            tool: dict[str, Any] = {"name": t.name}
            if t.description:
                tool["description"] = t.description
            tool["input_schema"] = t.parameters or {"type": "object"}
            body["tools"].append(tool)
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if stream:
        body["stream"] = True
    return body


# ---- response ----------------------------------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(raw: Any) -> Usage:
    """Prompt tokens are every input token, cached or not; cached means read from the cache.
    Anthropic does not count thinking tokens apart: ``reasoning_tokens`` stays 0."""
    raw = raw if isinstance(raw, dict) else {}
    read, written = _int(raw.get("cache_read_input_tokens")), _int(raw.get("cache_creation_input_tokens"))
    return Usage(
        prompt_tokens=_int(raw.get("input_tokens")) + read + written,
        completion_tokens=_int(raw.get("output_tokens")),
        cached_tokens=read,
    )


def _stop_reason(value: Any) -> FinishReason:
    return STOP_REASONS.get(str(value), "unknown") if value is not None else "unknown"


def parse_message(data: Any) -> tuple[ChatResult, Blocks]:
    """A ``message`` body as the canonical result, and its signed thinking blocks."""
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise UpstreamError("The anthropic provider answered without content.")
    texts: list[str] = []
    thoughts: list[str] = []
    signed: list[dict[str, Any]] = []
    calls: list[ToolCall] = []
    for block in data["content"]:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking", "")))
            signed.append(block)
        elif kind == "redacted_thinking":
            signed.append(block)
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")), arguments))
    choice = Choice(
        index=0,
        content="".join(texts) if texts or not calls else None,
        finish_reason=_stop_reason(data.get("stop_reason")),
        tool_calls=tuple(calls),
        reasoning="".join(thoughts) if thoughts else None,
    )
    return ChatResult(model=str(data.get("model", "")), choices=[choice], usage=_usage(data.get("usage"))), tuple(
        signed
    )


class EventDecoder:
    """Messages stream events to canonical events; one choice (index 0)."""

    def __init__(self, *, fallback_model: str) -> None:
        self.fallback_model = fallback_model
        self.finished = False
        self.stop_reason: Any = None
        self.usage: dict[str, Any] = {}
        self.tool_ids: list[str] = []
        self.generated = 0
        """UTF-8 bytes generated, for an estimate if the stream reports no usage."""
        self._tool_index: dict[int, int] = {}
        self._signed: dict[int, dict[str, Any]] = {}

    @property
    def signed_blocks(self) -> Blocks:
        return tuple(self._signed[i] for i in sorted(self._signed))

    def feed(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        events = self._feed(kind, data)
        for event in events:
            if isinstance(event, ChoiceDelta):
                for text in (event.content, event.reasoning, *(c.arguments for c in event.tool_calls)):
                    self.generated += len(text.encode()) if text else 0
        return events

    def _feed(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        if kind == "message_start":
            message = data.get("message") or {}
            self.usage.update(message.get("usage") or {})
            return [StreamStart(str(message.get("model") or self.fallback_model))]
        if kind == "content_block_start":
            return self._block_start(_int(data.get("index")), data.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(_int(data.get("index")), data.get("delta") or {})
        if kind == "message_delta":
            self.stop_reason = (data.get("delta") or {}).get("stop_reason", self.stop_reason)
            self.usage.update(data.get("usage") or {})  # cumulative counts
            return []
        if kind == "message_stop":
            self.finished = True
            return [ChoiceDelta(0, finish_reason=_stop_reason(self.stop_reason))]
        return []  # ping, content_block_stop, and event types added later

    def _block_start(self, index: int, block: dict[str, Any]) -> list[StreamEvent]:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return [ChoiceDelta(0, content=str(block["text"]))]
        if kind == "thinking":
            self._signed[index] = {"type": "thinking", "thinking": str(block.get("thinking", "")), "signature": ""}
            return [ChoiceDelta(0, reasoning=str(block["thinking"]))] if block.get("thinking") else []
        if kind == "redacted_thinking":
            self._signed[index] = dict(block)
            return []
        if kind == "tool_use":
            tool = self._tool_index[index] = len(self.tool_ids)
            self.tool_ids.append(str(block["id"]))
            ready = block.get("input")
            arguments = orjson.dumps(ready).decode() if ready else ""
            return [ChoiceDelta(0, tool_calls=(ToolCallDelta(tool, str(block["id"]), str(block["name"]), arguments),))]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [ChoiceDelta(0, content=str(delta["text"]))]
        if kind == "thinking_delta" and index in self._signed:
            self._signed[index]["thinking"] += str(delta.get("thinking", ""))
            return [ChoiceDelta(0, reasoning=str(delta["thinking"]))] if delta.get("thinking") else []
        if kind == "signature_delta" and index in self._signed:
            self._signed[index]["signature"] += str(delta.get("signature", ""))
            return []
        if kind == "input_json_delta" and index in self._tool_index and delta.get("partial_json"):
            call = ToolCallDelta(self._tool_index[index], arguments=str(delta["partial_json"]))
            return [ChoiceDelta(0, tool_calls=(call,))]
        return []


def parse_error(body: bytes) -> UpstreamFailure:
    """``{"type": "error", "error": {"type", "message"}}``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return UpstreamFailure(body.decode(errors="replace").strip()[:200] or None)
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return UpstreamFailure(None)
    kind = str(error.get("type", ""))
    return UpstreamFailure(message=error.get("message"), status=ERROR_STATUS.get(kind))


# ---- provider ----------------------------------------------------------------------------------


class AnthropicProvider:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        replay: ReplayCache[Blocks] | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.upstream = Upstream(config, parse_error=parse_error)
        self.replay: ReplayCache[Blocks] = replay if replay is not None else ReplayCache()

    async def start(self) -> None:
        await self.upstream.start()

    async def close(self) -> None:
        await self.upstream.close()

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        request_body(request, model, stream=request.stream, replay=self.replay)

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return prompt_tokens_upper_bound(request)

    def _url(self) -> str:
        return f"{self.config.base_url}/v1/messages"

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.config.api_key or "", "anthropic-version": API_VERSION}

    def _remember(self, tool_ids: list[str], signed: Blocks) -> None:
        if signed:
            for tool_id in tool_ids:
                self.replay.put(tool_id, signed)

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        body = request_body(request, model, stream=False, replay=self.replay)
        data = await self.upstream.post_json(self._url(), headers=self._headers(), body=body)
        result, signed = parse_message(data)
        result.model = result.model or model.upstream_model
        if not isinstance(data.get("usage"), dict):
            result.usage = estimated_usage(request, generated_bytes(result))
        self._remember([c.id for c in result.choices[0].tool_calls], signed)
        return result

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        body = request_body(request, model, stream=True, replay=self.replay)
        decoder = EventDecoder(fallback_model=model.upstream_model)
        async with aclosing(self.upstream.sse(self._url(), headers=self._headers(), body=body)) as events:
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
        yield _usage(decoder.usage) if decoder.usage else estimated_usage(request, decoder.generated)
