"""Error bodies of the upstreams built on FastAPI (fal, Black Forest Labs): ``{"detail": "text"}``,
or ``{"detail": [{"loc": ["body", "field"], "msg", "type"}, ...]}`` for a request that failed
validation (https://docs.fal.ai/errors, BFL's OpenAPI ``HTTPValidationError``)."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import error_object

__all__ = ["parse_detail_error"]


def _item(error: Any) -> tuple[str, str | None]:
    if not isinstance(error, dict):
        return str(error), None
    loc = [str(part) for part in error.get("loc") or () if not isinstance(part, dict)]
    field = ".".join(loc[1:] if loc[:1] == ["body"] else loc) or None
    message = str(error.get("msg") or error.get("type") or "invalid")
    return (f"{field}: {message}" if field else message), field


def parse_detail_error(body: bytes) -> UpstreamFailure:
    """The failure a ``detail`` body describes; the first invalid field is the ``param``."""
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    detail = data.get("detail", data.get("message") or data.get("error"))
    if isinstance(detail, list):
        items = [_item(e) for e in detail]
        params = [param for _, param in items if param]
        return UpstreamFailure("; ".join(text for text, _ in items) or None, param=params[0] if params else None)
    if isinstance(detail, dict):
        return UpstreamFailure(str(detail.get("message") or detail.get("msg") or orjson.dumps(detail).decode()))
    return UpstreamFailure(str(detail) if detail else None)
