"""The body of a chat completions request to an OpenAI-compatible upstream.

https://platform.openai.com/docs/api-reference/chat/create

The request carries only the fields the client set; streams always ask for
``stream_options.include_usage`` so that usage can be billed. ``Dialect`` holds where OpenAI's own
API and its imitators differ in what they accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core import field_policy
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
from unigate.providers.openai_compat.web_search import SearchStyle, search_body
from unigate.providers.wire import capped

__all__ = ["Dialect", "request_body"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """Where OpenAI's own API and its imitators differ in what they accept."""

    developer_role: bool = False
    """Most compatibles know only ``system``; OpenAI's reasoning models want ``developer``."""
    max_tokens_field: str = "max_tokens"
    """OpenAI deprecated ``max_tokens`` (its o-series reject it); most compatibles know only it."""
    web_search: SearchStyle | None = None
    """How the upstream is asked to search the web (``web_search.py``); ``None``: it cannot."""
    speaks_chat: bool = False
    """Whether the upstream takes OpenAI's newest fields as OpenAI does (``core/field_policy.py``):
    OpenAI only; the compatibles agree on the core fields and differ on new ones."""

    @staticmethod
    def of(provider: str) -> Dialect:
        if provider == "openai":
            return Dialect(
                developer_role=True, max_tokens_field="max_completion_tokens", web_search="openai", speaks_chat=True
            )
        if provider == "perplexity":
            return Dialect(web_search="perplexity")
        if provider == "moonshot":
            return Dialect(web_search="kimi")
        return Dialect()


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
                {"id": c.id, "type": _call_type(c, dialect), "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
    else:
        out["content"] = _content(m.content)
    if m.role == "tool":
        out["tool_call_id"] = m.tool_call_id
    if m.name is not None:
        out["name"] = m.name
    return out


def _call_type(call: ToolCall, dialect: Dialect) -> str:
    # A client running Kimi's search loop itself sends its $web_search calls back as Kimi wrote them.
    return "builtin_function" if dialect.web_search == "kimi" and call.name == "$web_search" else "function"


def request_body(request: ChatRequest, model: ModelSpec, *, dialect: Dialect, stream: bool) -> dict[str, Any]:
    """The upstream's request: ``model.upstream_model`` and only the fields the client set."""
    body: dict[str, Any] = {
        "model": model.upstream_model,
        "messages": [_message(m, dialect) for m in request.messages],
    }
    s = request.sampling
    optional: dict[str, Any] = {
        dialect.max_tokens_field: capped(request.max_tokens, model),
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
        "reasoning_effort": request.effort_for(model.params),
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
    search_body(body, request, model, dialect.web_search)
    if dialect.speaks_chat:
        body.update(field_policy.forwarded(request.extensions, "openai_chat"))
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body
