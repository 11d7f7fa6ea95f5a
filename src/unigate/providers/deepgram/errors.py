"""Deepgram's error bodies, in the two shapes its error reference documents:
``{"err_code", "err_msg", "request_id"}`` and ``{"category", "message", "details", "request_id"}``."""

from __future__ import annotations

import orjson

from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import text_failure

__all__ = ["parse_error"]


def parse_error(body: bytes) -> UpstreamFailure:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return text_failure(body)
    if not isinstance(data, dict):
        return UpstreamFailure(None)
    message = data.get("err_msg") or data.get("message")
    details = data.get("details")
    if message and isinstance(details, str) and details:
        message = f"{message} {details}"
    return UpstreamFailure(str(message) if message else None)
