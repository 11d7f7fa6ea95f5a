"""Anthropic's error bodies, ``{"type": "error", "error": {"type", "message"}}``, whether they come
with an HTTP status or as an ``error`` event inside a 200 stream."""

from __future__ import annotations

import orjson

from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import text_failure

__all__ = ["ERROR_STATUS", "parse_error"]

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
    return UpstreamFailure(message=error.get("message"), status=ERROR_STATUS.get(kind))
