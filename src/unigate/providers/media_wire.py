"""The pieces of the media upstreams' wire formats that several adapters read or write the same
way: query strings, files sent inline as ``data:`` URIs, error bodies read for their message
wherever the upstream puts it, and OCR page lists checked before anything is sent."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from unigate.core.media import Blob, OcrRequest
from unigate.errors import InvalidRequest
from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import text_failure

__all__ = ["check_pages", "data_uri", "message_failure", "query_string"]


def _message(data: Any) -> str | None:
    if isinstance(data, str):
        return data or None
    if isinstance(data, list) and data:
        return _message(data[0])
    if isinstance(data, dict):
        for key in ("message", "msg", "error", "detail"):
            found = _message(data.get(key))
            if found:
                return found
    return None


def message_failure(body: bytes, statuses: Mapping[str, int] | None = None) -> UpstreamFailure:
    """The message and param of an error body (``{"message", "param"}``, ``{"error": {"message",
    "code"}}``, ``{"code", "message"}``, ``{"detail": ...}``); ``statuses`` maps the body's code
    (``error.code``, else ``code``) to the HTTP status it stands for."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return text_failure(body)
    if not isinstance(data, dict):
        return UpstreamFailure(_message(data))
    error = data.get("error")
    where = error if isinstance(error, dict) else data
    param = where.get("param")
    status = (statuses or {}).get(str(where.get("code")))
    return UpstreamFailure(_message(data), param=param if isinstance(param, str) else None, status=status)


def check_pages(request: OcrRequest) -> None:
    if request.pages is not None and (not request.pages or min(request.pages) < 0):
        raise InvalidRequest("pages must list zero-based page numbers.", param="pages")


def _text(value: Any) -> str:
    # JSON's lower-case booleans, as every one of these upstreams reads them in a query.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def query_string(params: Mapping[str, Any]) -> str:
    """``params`` as a query string: booleans as ``true``/``false``, a list as the name repeated
    once per item, ``None`` left out."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        items: Iterable[Any] = value if isinstance(value, (list, tuple)) else (value,)
        pairs.extend((name, _text(item)) for item in items)
    return urlencode(pairs)


def data_uri(blob: Blob) -> str:
    """A file's bytes as a base64 ``data:`` URI, for upstreams that take files inline."""
    return f"data:{blob.content_type};base64,{base64.b64encode(blob.data).decode()}"
