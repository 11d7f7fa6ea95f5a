"""Gemini's error bodies: ``{"error": {"code", "message", "status", "details"}}`` (google.rpc.Status).

A prompt too long for the model's context is a 400 ``INVALID_ARGUMENT`` whose message names the
sizes ("The input token count (132478) exceeds the maximum number of tokens allowed (131072).");
it is reported with OpenAI's code, ``context_length_exceeded``.
"""

from __future__ import annotations

import re

import orjson

from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import text_failure

__all__ = ["AUTH_REASONS", "CONTEXT_EXCEEDED", "STATUS_OF", "parse_error"]

AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})
STATUS_OF = {"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503}
CONTEXT_EXCEEDED = re.compile(r"^The input token count \(\d+\) exceeds the maximum number of tokens allowed")


def parse_error(body: bytes) -> UpstreamFailure:
    """The failure an error body describes. A wrong key is a 400 ``API_KEY_INVALID`` there: it
    counts as the 401 it is."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return text_failure(body)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        error = data[0].get("error")  # streamGenerateContent without alt=sse wraps it in a list
    if not isinstance(error, dict):
        return UpstreamFailure(None)
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    status = STATUS_OF.get(str(error.get("status")))
    if any(d.get("reason") in AUTH_REASONS for d in details):
        status = 401
    code = error.get("code")
    if status is None and isinstance(code, int) and 400 <= code <= 599:
        status = code
    retry = next((str(d["retryDelay"]) for d in details if d.get("retryDelay")), None)
    message = error.get("message")
    too_long = isinstance(message, str) and bool(CONTEXT_EXCEEDED.match(message))
    return UpstreamFailure(message=message, status=status, retry_after=retry, context_exceeded=too_long)
