"""Anthropic's error bodies, ``{"type": "error", "error": {"type", "message"}}``, whether they come
with an HTTP status or as an ``error`` event inside a 200 stream.

A prompt too long for the model's context is an ``invalid_request_error`` whose message names
the sizes: "prompt is too long: 200251 tokens > 200000 maximum", or, when the prompt fits but not
with ``max_tokens``, "input length and `max_tokens` exceed context limit: 143653 + 64000 >
200000, ...". Both are reported with OpenAI's code, ``context_length_exceeded``.
"""

from __future__ import annotations

import re

import orjson

from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import text_failure

__all__ = ["CONTEXT_EXCEEDED", "ERROR_STATUS", "parse_error"]

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


CONTEXT_EXCEEDED = re.compile(
    r"^prompt is too long: \d+ tokens > \d+ maximum|^input length and `max_tokens` exceed context limit: "
)
"""Anthropic's messages for a request that does not fit the model's context (see the module)."""


def parse_error(body: bytes) -> UpstreamFailure:
    """``{"type": "error", "error": {"type", "message"}}``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return text_failure(body)
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return UpstreamFailure(None)
    kind = str(error.get("type", ""))
    message = error.get("message")
    too_long = kind == "invalid_request_error" and isinstance(message, str) and bool(CONTEXT_EXCEEDED.match(message))
    return UpstreamFailure(message=message, status=ERROR_STATUS.get(kind), context_exceeded=too_long)
