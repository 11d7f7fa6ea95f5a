"""Deepgram's error bodies, in the two shapes its error reference documents:
``{"err_code", "err_msg", "request_id"}`` and ``{"category", "message", "details", "request_id"}``."""

from __future__ import annotations

from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import error_object

__all__ = ["parse_error"]


def parse_error(body: bytes) -> UpstreamFailure:
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    message = data.get("err_msg") or data.get("message")
    details = data.get("details")
    if message and isinstance(details, str) and details:
        message = f"{message} {details}"
    return UpstreamFailure(str(message) if message else None)
