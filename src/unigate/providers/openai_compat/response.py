"""What an OpenAI-compatible upstream answers: ``chat.completion`` bodies, usage, error bodies and
embeddings lists, read defensively (a missing or odd field becomes ``None`` or 0, never an
exception, unless the answer is unusable).

Responses vary by upstream (the service's docs, sections "POST /v1/chat/completions: response"
and "Streaming (SSE) on /v1/chat/completions"): ``reasoning_content`` (DeepSeek, Qwen) or
``reasoning`` (OpenRouter) become ``Choice.reasoning``; Anthropic models behind an OpenAI wire
say ``end_turn``.

Which of the caller's stop sequences ended the text: OpenAI's wire does not say (its ``stop``
finish is the same for a natural end), and the matched sequence is cut from the text, so it
cannot be found there either; but vLLM says it in the choice's ``stop_reason`` and SGLang in
``matched_stop``. ``matched_stop`` takes it from those, only when it is one of the caller's
sequences (vLLM also puts stop token ids there, other servers other words); else it stays unknown.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import numpy as np
import orjson

from unigate.core.chat import ToolCall
from unigate.core.results import ChatResult, Choice, FinishReason, TokenLogprob, TopLogprob, Usage
from unigate.errors import UpstreamError
from unigate.primitives.ids import hex_id
from unigate.providers.http import UpstreamFailure
from unigate.providers.openai_compat.web_search import perplexity_citations, sources, url_citations

__all__ = [
    "FINISH_REASONS",
    "arguments_json",
    "finish_reason",
    "int_or_zero",
    "matched_stop",
    "parse_completion",
    "parse_embeddings",
    "parse_error",
    "parse_logprobs",
    "parse_usage",
    "text_or_none",
]


FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "function_call",
    # Values that OpenAI-compatible upstreams pass through from the models' native APIs:
    "end_turn": "stop",  # Anthropic behind an OpenAI wire
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


def int_or_zero(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: Any) -> Usage | None:
    """Usage as reported; ``total_tokens`` kept as is (it need not be prompt + completion)."""
    if not isinstance(raw, dict):
        return None
    completion_details = raw.get("completion_tokens_details") or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    cached = int_or_zero(prompt_details.get("cached_tokens")) or int_or_zero(
        raw.get("prompt_cache_hit_tokens")
    )  # DeepSeek
    total = raw.get("total_tokens")
    return Usage(
        prompt_tokens=int_or_zero(raw.get("prompt_tokens")),
        completion_tokens=int_or_zero(raw.get("completion_tokens")),
        total_tokens=total if isinstance(total, int) else None,
        reasoning_tokens=int_or_zero(completion_details.get("reasoning_tokens")),
        cached_tokens=cached,
    )


def _top(raw: Any) -> TopLogprob:
    raw_bytes = raw.get("bytes")
    return TopLogprob(
        str(raw.get("token", "")), float(raw.get("logprob", 0.0)), tuple(raw_bytes) if raw_bytes else None
    )


def parse_logprobs(raw: Any) -> tuple[TokenLogprob, ...] | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("content"), list):
        return None
    out = []
    for item in raw["content"]:
        head = _top(item)
        tops = tuple(_top(t) for t in item.get("top_logprobs") or ())
        out.append(TokenLogprob(head.token, head.logprob, head.bytes, tops))
    return tuple(out)


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def arguments_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value if value is not None else {}).decode()


def _tool_call(raw: Any) -> ToolCall:
    fn = raw.get("function") or {}
    call_id = text_or_none(raw.get("id")) or "call_" + hex_id(12)
    return ToolCall(call_id, str(fn.get("name", "")), arguments_json(fn.get("arguments")))


def matched_stop(choice: dict[str, Any], stops: tuple[str, ...]) -> str | None:
    """The caller's stop sequence that a ``stop`` finish names (vLLM's ``stop_reason``, SGLang's
    ``matched_stop``), if it names one of ``stops``."""
    if not stops or choice.get("finish_reason") != "stop":
        return None
    for key in ("stop_reason", "matched_stop"):
        if (value := choice.get(key)) in stops:
            return str(value)
    return None


def parse_completion(data: Any, *, stops: tuple[str, ...] = ()) -> ChatResult:
    """A ``chat.completion`` body as the canonical result (``usage`` zero when not reported);
    ``stops``: the caller's stop sequences, for ``Choice.stop_sequence``."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise UpstreamError("The upstream answered without choices.")
    choices = []
    found = sources(data)  # Perplexity's, for the whole answer
    for position, raw in enumerate(data["choices"]):
        message = raw.get("message") or {}
        content = message.get("content") if isinstance(message.get("content"), str) else None
        choices.append(
            Choice(
                index=int_or_zero(raw.get("index")) if "index" in raw else position,
                content=content,
                finish_reason=finish_reason(raw.get("finish_reason")) or "unknown",
                tool_calls=tuple(_tool_call(c) for c in message.get("tool_calls") or ()),
                reasoning=text_or_none(message.get("reasoning_content")) or text_or_none(message.get("reasoning")),
                refusal=text_or_none(message.get("refusal")),
                logprobs=parse_logprobs(raw.get("logprobs")),
                stop_sequence=matched_stop(raw, stops),
                annotations=url_citations(message.get("annotations"))
                or (perplexity_citations(content or "", found) if found else ()),
            )
        )
    return ChatResult(
        model=str(data.get("model") or ""),
        choices=choices,
        usage=parse_usage(data.get("usage")) or Usage(),
        system_fingerprint=text_or_none(data.get("system_fingerprint")),
    )


CONTEXT_EXCEEDED = re.compile(r"maximum context length is \d+ tokens")
"""The start of OpenAI's message for a prompt that does not fit the context, which compatibles
send under other codes: vLLM (``"code": 400``), DeepSeek (``invalid_request_error``)."""


def parse_error(body: bytes) -> UpstreamFailure:
    """OpenAI's ``{"error": {"message", "type", "param", "code"}}`` and the variants compatibles
    send: ``{"error": "text"}``, ``{"message": ...}`` (vLLM), ``{"detail": ...}`` (FastAPI). A
    prompt too long for the context (OpenAI's code ``context_length_exceeded``, or its message)
    keeps that code."""
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
    text = str(message) if message is not None else None
    return UpstreamFailure(
        message=text,
        param=param if isinstance(param, str) else None,
        status=code if isinstance(code, int) and 400 <= code <= 599 else None,
        context_exceeded=code == "context_length_exceeded" or bool(text and CONTEXT_EXCEEDED.search(text)),
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
