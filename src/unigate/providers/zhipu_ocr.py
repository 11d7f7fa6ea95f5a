"""``ZhipuOcrReader``: GLM-OCR through Zhipu's layout parsing, ``POST /paas/v4/layout_parsing``
with ``{model, file, return_crop_images, need_layout_visualization, start_page_id,
end_page_id}``, answered with ``{md_results, layout_details: [[element]], data_info: {num_pages,
pages: [{width, height}]}, ...}`` (docs.bigmodel.cn, "文档解析"; docs.z.ai, "Layout Parsing").

The service answers GLM-OCR in Mistral's page shape, so the answer becomes one ``OcrPage`` per
page: a one-page document's markdown is ``md_results``; a longer one's pages are their layout
elements' contents in reading order (``md_results`` is the whole document in one string).
Zhipu reads a page range: asked for scattered pages, it reads the range and the others are
left out of the answer.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import OcrPage, OcrRequest, OcrResult
from unigate.errors import InvalidRequest
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media_wire import check_pages, message_failure
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["ZhipuOcrReader", "layout_body", "layout_result"]

_PASSED = ("return_crop_images", "need_layout_visualization")
"""The reference's GLM-OCR fields that the layout parsing API takes under the same name."""

_STATUSES = {"1113": 402}
"""Zhipu's ``error.code`` for an account in arrears: the operator's, not a wrong key."""


def _parse_error(body: bytes) -> UpstreamFailure:
    return message_failure(body, _STATUSES)


def layout_body(request: OcrRequest, upstream: str) -> dict[str, Any]:
    check_pages(request)
    source = request.document
    if source.url is not None:
        file = source.url
    elif source.blob is not None:
        file = base64.b64encode(source.blob.data).decode()  # "url or base64", the reference says
    else:
        raise InvalidRequest("The document has neither a URL nor content.", param="document")
    body: dict[str, Any] = {"model": upstream, "file": file}
    if request.pages is not None:
        body["start_page_id"] = min(request.pages) + 1
        body["end_page_id"] = max(request.pages) + 1
    body.update({name: request.options[name] for name in _PASSED if request.options.get(name) is not None})
    return body


def _page_markdown(elements: Any) -> str:
    items: Sequence[Any] = elements if isinstance(elements, list) else ()
    return "\n\n".join(str(e.get("content")) for e in items if isinstance(e, Mapping) and e.get("content"))


def layout_result(answer: Any, request: OcrRequest) -> OcrResult:
    answer = answer if isinstance(answer, Mapping) else {}
    details = [d for d in answer.get("layout_details") or () if isinstance(d, list)]
    info = answer.get("data_info") if isinstance(answer.get("data_info"), Mapping) else {}
    sizes = [p for p in (info or {}).get("pages") or () if isinstance(p, Mapping)]
    count = max(len(details), len(sizes), 1)
    first = min(request.pages) if request.pages else 0
    pages = []
    for i in range(count):
        index = first + i
        if request.pages is not None and index not in request.pages:
            continue
        if count == 1:
            markdown = str(answer.get("md_results") or "")
        else:
            markdown = _page_markdown(details[i] if i < len(details) else ())
        size = sizes[i] if i < len(sizes) else None
        dimensions = {"height": size.get("height"), "width": size.get("width")} if size else None
        pages.append(OcrPage(index=index, markdown=markdown, dimensions=dimensions))
    return OcrResult(pages=tuple(pages), model=str(answer.get("model") or ""))


class ZhipuOcrReader(UpstreamAdapter):
    """GLM-OCR through layout parsing (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=_parse_error, transport=transport))

    def check_ocr(self, request: OcrRequest, model: ModelSpec) -> None:
        layout_body(request, model.upstream_model)

    async def read(self, request: OcrRequest, model: ModelSpec) -> OcrResult:
        url = self.url("layout_parsing")
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        answer = await self.upstream.post_json(url, headers=headers, body=layout_body(request, model.upstream_model))
        return layout_result(answer, request)
