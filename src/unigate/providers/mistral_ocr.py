"""``MistralOcrReader``: Mistral OCR, ``POST /v1/ocr`` with ``{model, document, pages,
include_image_base64, ...}``, answered with ``{pages: [{index, markdown, images, dimensions}],
model, usage_info: {pages_processed, doc_size_bytes}}`` (the service's own OCR shape).

A document or image the client uploaded goes inline, as a base64 ``data:`` URI, which Mistral
accepts in ``document_url`` and ``image_url``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import OcrPage, OcrRequest, OcrResult
from unigate.errors import InvalidRequest
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media_wire import check_pages, data_uri, message_failure
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["MistralOcrReader", "ocr_body", "ocr_result"]

_CARRIED = frozenset({"model", "document", "pages", "include_image_base64"})


def _parse_error(body: bytes) -> UpstreamFailure:
    return message_failure(body)


def _document(request: OcrRequest) -> dict[str, str]:
    source = request.document
    if source.url is not None:
        location = source.url
    elif source.blob is not None:
        location = data_uri(source.blob)
    else:
        raise InvalidRequest("The document has neither a URL nor content.", param="document")
    kind = "image_url" if request.kind == "image" else "document_url"
    return {"type": kind, kind: location}


def ocr_body(request: OcrRequest, upstream: str) -> dict[str, Any]:
    check_pages(request)
    body: dict[str, Any] = {"model": upstream, "document": _document(request)}
    if request.pages is not None:
        body["pages"] = list(request.pages)
    if request.include_image_base64:
        body["include_image_base64"] = True
    body.update({k: v for k, v in request.options.items() if k not in _CARRIED and v is not None})
    return body


def ocr_result(answer: Any) -> OcrResult:
    """Mistral's answer; kept whole as ``native`` only when it carries a document annotation,
    which the service's shape has no other place for."""
    answer = answer if isinstance(answer, Mapping) else {}
    pages = tuple(
        OcrPage(
            index=int(p.get("index") or 0),
            markdown=str(p.get("markdown") or ""),
            images=tuple(i for i in p.get("images") or () if isinstance(i, Mapping)),
            dimensions=p.get("dimensions") if isinstance(p.get("dimensions"), Mapping) else None,
        )
        for p in answer.get("pages") or ()
        if isinstance(p, Mapping)
    )
    usage = answer.get("usage_info") if isinstance(answer.get("usage_info"), Mapping) else {}
    size = (usage or {}).get("doc_size_bytes")
    return OcrResult(
        pages=pages,
        model=str(answer.get("model") or ""),
        doc_size_bytes=size if isinstance(size, int) and not isinstance(size, bool) else None,
        native=dict(answer) if answer.get("document_annotation") is not None else None,
    )


class MistralOcrReader(UpstreamAdapter):
    """Mistral OCR (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=_parse_error, transport=transport))

    def check_ocr(self, request: OcrRequest, model: ModelSpec) -> None:
        ocr_body(request, model.upstream_model)

    async def read(self, request: OcrRequest, model: ModelSpec) -> OcrResult:
        url = self.url("ocr")
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        answer = await self.upstream.post_json(url, headers=headers, body=ocr_body(request, model.upstream_model))
        return ocr_result(answer)
