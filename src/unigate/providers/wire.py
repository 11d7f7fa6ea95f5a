"""The pieces of upstream wire formats that every adapter reads or writes the same way: counts,
tool calls and their arguments, and error bodies (their JSON object, or their text when it is
not JSON).

Upstream answers are read defensively: a count that is missing or not an integer is 0, never an
exception, so one odd field cannot fail an answer that was otherwise complete (and billed).
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ToolCall
from unigate.errors import InvalidRequest
from unigate.primitives.ids import hex_id
from unigate.providers.http import UpstreamFailure

__all__ = [
    "arguments_object",
    "arguments_text",
    "capped",
    "error_object",
    "int_or_zero",
    "new_call_id",
    "text_failure",
    "tool_call",
]

ERROR_TEXT_CHARS = 200
"""How much of an error body that is not JSON becomes the message (an HTML error page is long)."""


def int_or_zero(value: Any) -> int:
    """A count or an index as the upstream reported it; 0 when missing or not an integer (JSON
    ``true`` is not one, though Python's ``bool`` is an ``int``)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def new_call_id() -> str:
    """A tool call id in OpenAI's format, for calls whose upstream gives none."""
    return "call_" + hex_id(12)


def tool_call(call_id: Any, name: Any, arguments: str) -> ToolCall:
    """A tool call read from an answer; one without an id gets one, as the client must name the
    call it answers."""
    return ToolCall(str(call_id) if call_id else new_call_id(), str(name), arguments)


def arguments_text(value: Any) -> str:
    """Arguments that an upstream sends as a JSON object, as the JSON text of the canonical call
    (none at all: ``{}``)."""
    return orjson.dumps(value or {}).decode()


def arguments_object(arguments: str, *, param: str) -> dict[str, Any]:
    """A canonical call's JSON text as the object that native APIs take (Anthropic's ``input``,
    Gemini's ``args``); anything else is the client's error, named by ``param``."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=param) from exc
    if not isinstance(value, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=param)
    return value


def text_failure(body: bytes) -> UpstreamFailure:
    """An error body that is not JSON (a proxy's page, a plain-text message): its start is the
    message."""
    return UpstreamFailure(body.decode(errors="replace").strip()[:ERROR_TEXT_CHARS] or None)


def error_object(body: bytes) -> dict[str, Any] | UpstreamFailure:
    """An error body's JSON object, for the upstream's parser to read; when it is none, the
    failure to report as it is (a body that is not JSON: its text; other JSON: no message)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return text_failure(body)
    return data if isinstance(data, dict) else UpstreamFailure(None)


def capped(max_tokens: int | None, model: ModelSpec) -> int | None:
    """A bound above what the model can write, lowered to it: the answer is the same, and the
    upstream would refuse it (agents send one bound to every model: opencode 32,000)."""
    if max_tokens is None or not model.max_output:
        return max_tokens
    return min(max_tokens, model.max_output)
