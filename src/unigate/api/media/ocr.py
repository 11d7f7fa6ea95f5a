"""``POST /v1/ocr`` (and ``/ocr``): Mistral's shape, which the service documents for its OCR
models: ``document`` as ``{type: document_url, document_url}`` or ``{type: image_url, image_url}``
(a URL, or base64 as a ``data:`` URI), ``pages``, ``include_image_base64``; the answer
``{pages: [{index, markdown, images, dimensions}], model, usage_info, meta}``.

A model whose upstream answers in its own shape (``OcrResult.native``) is answered with that
object plus ``meta``. Charged per page read; the reservation covers the ``pages`` asked for, one
page for an image, else ``core.media_flow.MAX_PAGES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson
from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import MEDIA, STORE
from unigate.api.media.uploads import source_of
from unigate.api.meta import meta
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json
from unigate.catalog.fields import request_schema
from unigate.core.media import OcrRequest, OcrResult
from unigate.core.media_flow import MAX_PAGES
from unigate.core.services import Modality
from unigate.errors import InvalidRequest

__all__ = ["ocr"]

_KINDS: dict[str, Literal["document", "image"]] = {"document_url": "document", "image_url": "image"}


def _document(value: Any) -> tuple[Literal["document", "image"], Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequest(
            "'document' must be {type: 'document_url', document_url} or {type: 'image_url', image_url}.",
            param="document",
        )
    kind = value.get("type") or next((k for k in _KINDS if k in value), None)
    if not isinstance(kind, str) or kind not in _KINDS or kind not in value:  # a list is unhashable
        raise InvalidRequest(
            "'document.type' must be 'document_url' or 'image_url', with that field set.", param="document.type"
        )
    return _KINDS[kind], value[kind]


def _pages(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_PAGES
        or any(isinstance(p, bool) or not isinstance(p, int) or p < 0 for p in value)
    ):
        raise InvalidRequest(f"'pages' must be a list of 1 to {MAX_PAGES} page indexes (from 0).", param="pages")
    return tuple(dict.fromkeys(value))


async def ocr(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    body = await read_json(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    media = request.app[MEDIA]
    spec = media.model(model, Modality.OCR)
    schema = request_schema(spec)
    fields = schema.validate(body) if schema is not None else dict(body)
    kind, where = _document(fields.pop("document", None))
    param = f"document.{'document_url' if kind == 'document' else 'image_url'}"
    source = source_of(where, param, kinds=("image/",) if kind == "image" else ("application/pdf", "image/"))
    include = fields.pop("include_image_base64", False)
    if not isinstance(include, bool):
        raise InvalidRequest("'include_image_base64' must be true or false.", param="include_image_base64")
    pages = _pages(fields.pop("pages", None))
    fields.pop("model", None)
    canonical = OcrRequest(spec.id, source, kind, pages, include, fields)
    result, charge = await media.ocr(canonical, key, admission=admission_for(request))
    return web.Response(
        body=orjson.dumps(_body(result, spec.id, charge_meta=meta(charge))), content_type="application/json"
    )


def _body(result: OcrResult, model: str, *, charge_meta: dict[str, Any]) -> dict[str, Any]:
    if result.native is not None and isinstance(result.native, Mapping):
        return {**result.native, "meta": charge_meta}
    return {
        "pages": [
            {"index": p.index, "markdown": p.markdown, "images": list(p.images), "dimensions": p.dimensions}
            for p in result.pages
        ],
        "model": result.model or model,
        "usage_info": {"pages_processed": len(result.pages), "doc_size_bytes": result.doc_size_bytes},
        "meta": charge_meta,
    }
