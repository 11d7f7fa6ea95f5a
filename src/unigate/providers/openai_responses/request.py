"""The body of a request to OpenAI's Responses API (``POST {base_url}/responses``).

https://platform.openai.com/docs/api-reference/responses/create

The canonical conversation becomes ``input`` items: each message with its role (``input_text``,
``input_image`` and ``input_file`` parts), each tool call of an assistant turn a ``function_call``
item and each tool result a ``function_call_output`` item. Only the fields the client set are sent,
with three choices of ours (a Responses client's own body is sent as written, ``_as_sent``, with
the first of them):

* ``store: false``: the gateway keeps no conversation at OpenAI on its operator's account; so that
  a reasoning model still sees its earlier reasoning in a tool loop, its reasoning items are asked
  for encrypted (``include``) and put back before the calls they led to (``Reasoning``), as the
  reasoning guide says of stateless use;
* a function tool's ``strict`` is sent as the client set it, ``false`` when unset: Chat
  Completions' default, where the Responses API's default (``true``) would reject the schemas
  that are not strict-compatible;
* no reasoning summary is asked for: no inbound API says it wants one, and OpenAI refuses
  summaries to unverified organizations; summaries that come are read (``response.py``).
"""

from __future__ import annotations

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
)
from unigate.errors import InvalidRequest
from unigate.providers.replay import ReplayCache
from unigate.providers.wire import capped

__all__ = ["REASONING_FEATURE", "Reasoning", "check_request", "request_body"]

Reasoning = tuple[dict[str, Any], ...]
"""The reasoning items of one answer, as returned with their ``encrypted_content``."""

REASONING_FEATURE = "openai/chat-completion.reasoning"
"""The catalog's feature of a model that reasons: only such a model is asked for its reasoning."""

_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def check_request(request: ChatRequest) -> None:
    """What the Responses API has no field for fails before credits are reserved (the catalog's
    Responses-only models do not list these parameters; a model an operator routes here may)."""
    s = request.sampling
    unsupported = (
        ("n", request.n != 1),
        ("stop", bool(s.stop)),
        ("logit_bias", bool(s.logit_bias)),
        ("logprobs", request.logprobs),
        ("seed", s.seed is not None),
        ("frequency_penalty", s.frequency_penalty is not None),
        ("presence_penalty", s.presence_penalty is not None),
        ("top_k", s.top_k is not None),
        ("min_p", s.min_p is not None),
        ("repetition_penalty", s.repetition_penalty is not None),
    )
    for name, is_set in unsupported:
        if is_set:
            raise InvalidRequest(
                f"The parameter {name!r} is not supported by this model, which OpenAI serves only through "
                "its Responses API.",
                param=name,
            )


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "input_image", "image_url": part.url, "detail": part.detail or "auto"}
    file = (("file_data", part.file_data), ("filename", part.filename), ("file_id", part.file_id))
    return {"type": "input_file", **{k: v for k, v in file if v}}


def _content(parts: tuple[ContentPart, ...]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return [_part(p) for p in parts]


def _items(m: Message, replay: ReplayCache[Reasoning]) -> list[dict[str, Any]]:
    if m.role == "tool":
        return [{"type": "function_call_output", "call_id": m.tool_call_id or "", "output": m.text()}]
    if m.role != "assistant":
        return [{"role": m.role, "content": _content(m.content)}]
    items: list[dict[str, Any]] = []
    text = m.text()
    if text or not m.tool_calls:
        items.append({"role": "assistant", "content": text})
    # An answer's reasoning goes before the calls it led to; the calls of one answer share it.
    reasoning = next((r for r in (replay.get(c.id) for c in m.tool_calls) if r), ())
    items.extend(reasoning)
    items.extend(
        {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls
    )
    return items


def _as_sent(body: dict[str, Any], model: ModelSpec, *, stream: bool) -> dict[str, Any]:
    """A Responses client's own body, with our model id, stream choice and ``store: false``.
    Reasoning items without ``encrypted_content`` are left out: with nothing stored at OpenAI it
    could only look them up by id and fail (they are another model's, or a stored answer's)."""
    body["model"] = model.upstream_model
    body["store"] = False
    for ours in ("background", "previous_response_id"):
        body.pop(ours, None)
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    if REASONING_FEATURE in model.features and "reasoning.encrypted_content" not in body.get("include", ()):
        body["include"] = [*body.get("include", ()), "reasoning.encrypted_content"]
    items = body.get("input")
    if isinstance(items, list):
        body["input"] = [i for i in items if not _unsealed(i)]
    return body


def _unsealed(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "reasoning" and not item.get("encrypted_content")


def request_body(
    request: ChatRequest, model: ModelSpec, *, stream: bool, replay: ReplayCache[Reasoning]
) -> dict[str, Any]:
    """The upstream's request: ``model.upstream_model`` and only the fields the client set; a
    Responses client's body as sent (``field_policy.sendable``)."""
    native = field_policy.sendable(request.extensions, "openai_responses")
    if native is not None:
        return _as_sent(native, model, stream=stream)
    body: dict[str, Any] = {
        "model": model.upstream_model,
        "input": [item for m in request.messages for item in _items(m, replay)],
        "store": False,
    }
    if REASONING_FEATURE in model.features:
        body["include"] = ["reasoning.encrypted_content"]
    s = request.sampling
    optional: dict[str, Any] = {
        "max_output_tokens": capped(request.max_tokens, model),
        "temperature": s.temperature,
        "top_p": s.top_p,
        "parallel_tool_calls": request.parallel_tool_calls,
        "user": request.user,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if (effort := request.effort_for(model.params)) is not None:
        body["reasoning"] = {"effort": effort}
    fmt = request.response_format
    if isinstance(fmt, JsonObjectFormat):
        body["text"] = {"format": {"type": "json_object"}}
    elif isinstance(fmt, JsonSchemaFormat):
        spec = {"name": fmt.name, "description": fmt.description, "schema": fmt.schema, "strict": fmt.strict}
        body["text"] = {"format": {"type": "json_schema", **{k: v for k, v in spec.items() if v is not None}}}
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                **({"description": t.description} if t.description is not None else {}),
                "parameters": t.parameters if t.parameters is not None else _EMPTY_PARAMETERS,
                "strict": bool(t.strict),
            }
            for t in request.tools
        ]
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "name": choice.name}
    elif choice is not None:
        body["tool_choice"] = choice
    body.update(field_policy.forwarded(request.extensions, "openai_responses"))
    if stream:
        body["stream"] = True
    return body
