"""The canonical chat request as an Anthropic Messages request.

``system``/``developer`` messages become the top-level ``system``; images become ``base64`` or
``url`` sources; PDF and plain-text files become ``document`` blocks; ``tool`` messages become
``tool_result`` blocks of a user turn (consecutive turns of one role are merged, as the API wants
them alternating); assistant ``tool_calls`` become ``tool_use`` blocks. ``max_tokens`` is
required: the request's, else the model's ``max_output``, else 4096.

``reasoning_effort`` becomes ``thinking: {type: enabled, budget_tokens}`` with a budget of 20 %
(low), 50 % (medium) or 80 % (high) of ``max_tokens``, at least 1024 and below ``max_tokens`` (so
``max_tokens: 1025`` gives the documented minimum, as in the service's docs, the thinking example
for Claude models). Like OpenAI's ``max_completion_tokens``, Anthropic's ``max_tokens`` counts the
thinking too.

Signed thinking blocks of an answer that called tools are kept on this server under the tool call
ids (``replay.py``) and put back at the head of that assistant turn when the client sends the tool
results, as Anthropic requires during a tool loop. If they are unknown there (another process, a
restart), the request is sent without ``thinking``: Claude finishes the tool loop without extended
thinking instead of failing.

A client of the Messages API itself has its body sent as it wrote it (``core/field_policy.py``:
signed thinking, cache breakpoints, betas and their fields all reach Claude), with our model id;
the rest of this docstring is about every other client.

What Anthropic cannot honour is refused here, which ``check`` runs before credits are reserved:
``n`` > 1, ``logprobs``, penalties, ``seed``, ``logit_bias``, ``min_p``, ``repetition_penalty``,
``response_format``, ``temperature`` above 1, and the sampling and forced-tool combinations that
extended thinking rejects. ``strict`` on tools is not sent (the Messages API has no such field).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core import field_policy
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
)
from unigate.errors import InvalidRequest, UnsupportedContent, UnsupportedParameter
from unigate.providers.anthropic.response import Blocks
from unigate.providers.media import Inline, file_source, image_source
from unigate.providers.replay import ReplayCache
from unigate.providers.wire import arguments_object

__all__ = ["DEFAULT_MAX_TOKENS", "request_body", "thinking_budget"]

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
THINKING_SHARE = {"low": 0.2, "medium": 0.5, "high": 0.8}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def thinking_budget(effort: str, max_tokens: int) -> int:
    if max_tokens <= MIN_THINKING_BUDGET:
        raise InvalidRequest(
            f"reasoning_effort needs max_completion_tokens above {MIN_THINKING_BUDGET} on this model.",
            param="max_completion_tokens",
        )
    return min(max(MIN_THINKING_BUDGET, int(max_tokens * THINKING_SHARE[effort])), max_tokens - 1)


def _refuse_unsupported(request: ChatRequest, effort: str | None) -> None:
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
    if effort is None:
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
                tool_input = arguments_object(call.arguments, param=param)
                blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input})
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


def _as_sent(body: dict[str, Any], model: ModelSpec, *, stream: bool) -> dict[str, Any]:
    """A Messages API client's own body, with our model id and stream choice. Thinking blocks
    without a signature (another model's reasoning, which this gateway renders unsigned) are left
    out: Claude refuses them, and only its own signed blocks matter to it."""
    body["model"] = model.upstream_model
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    messages = body.get("messages")
    if isinstance(messages, list):
        body["messages"] = [_signed_only(m) for m in messages]
    return body


def _signed_only(message: Any) -> Any:
    content = message.get("content") if isinstance(message, dict) else None
    if message.get("role") != "assistant" or not isinstance(content, list):
        return message
    kept = [b for b in content if not (isinstance(b, dict) and b.get("type") == "thinking" and not b.get("signature"))]
    return message if len(kept) == len(content) else {**message, "content": kept}


def request_body(
    request: ChatRequest, model: ModelSpec, *, stream: bool, replay: ReplayCache[Blocks] | None = None
) -> dict[str, Any]:
    """The Messages API request; raises what Anthropic cannot honour (see the module docstring).
    A Messages API client's body goes as sent (``field_policy.sendable``)."""
    native = field_policy.sendable(request.extensions, "anthropic")
    if native is not None:
        return _as_sent(native, model, stream=stream)
    effort = request.effort_for(model.params)
    _refuse_unsupported(request, effort)
    max_tokens = request.max_tokens or model.max_output or DEFAULT_MAX_TOKENS
    thinking = effort is not None
    conv = _conversation(request.messages, replay if replay is not None else ReplayCache(), thinking=thinking)
    body: dict[str, Any] = {"model": model.upstream_model, "max_tokens": max_tokens, "messages": conv.turns}
    if conv.system:
        body["system"] = "\n\n".join(conv.system)
    if effort is not None:
        budget = thinking_budget(effort, max_tokens)
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
    body.update(field_policy.forwarded(request.extensions, "anthropic"))
    if stream:
        body["stream"] = True
    return body
