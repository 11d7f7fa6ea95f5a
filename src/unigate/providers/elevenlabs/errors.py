"""ElevenLabs' error bodies: ``{"detail": {"status", "message"}}`` (its help center's examples),
``{"detail": [{"loc", "msg", "type"}]}`` (the OpenAPI ``HTTPValidationError`` of a 422)."""

from __future__ import annotations

from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import error_object

__all__ = ["parse_error"]

_NOT_AUTH = {"quota_exceeded": 402}
"""Statuses sent as a 401 that are not about the key: out of credit is the operator's account
running dry, reported as an upstream failure rather than as a wrong key."""


def parse_error(body: bytes) -> UpstreamFailure:
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    detail = data.get("detail")
    if isinstance(detail, dict):
        status = str(detail.get("status") or "")
        message = detail.get("message") or status or None
        return UpstreamFailure(str(message) if message else None, status=_NOT_AUTH.get(status))
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        where = [str(p) for p in first.get("loc") or () if p != "body"]
        return UpstreamFailure(str(first.get("msg") or "") or None, param=".".join(where) or None)
    if isinstance(detail, str):
        return UpstreamFailure(detail)
    return UpstreamFailure(None)
