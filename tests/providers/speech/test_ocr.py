# Recorded payloads: tests/providers/fixtures/mistral/README.md (Mistral's API reference) and
# tests/providers/fixtures/zhipu/README.md (Zhipu's layout parsing reference and error codes).
"""Mistral OCR and Zhipu GLM-OCR through ``MockTransport``: the exact request for a URL and for an
uploaded file, pages in the service's shape, errors typed."""

from __future__ import annotations

import base64

import pytest

from tests.providers.emulators import UPSTREAM_KEY
from tests.providers.speech.helpers import Replies, config, fixture_json, json_body, spec
from unigate.core.media import Blob, OcrRequest, Source
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.mistral_ocr import MistralOcrReader
from unigate.providers.transport.mock import MockResponse
from unigate.providers.zhipu_ocr import ZhipuOcrReader

MISTRAL = spec("mistral", "mistral-ocr-latest", "ocr", "mistral/mistral-ocr-latest")
GLM = spec("zhipu", "glm-ocr", "ocr", "zhipu/glm-ocr")
PDF = Blob(b"%PDF-1.7 a small document", "application/pdf", "paper.pdf")
ARXIV = "https://arxiv.org/pdf/2201.04234"


async def mistral(transport: Replies) -> MistralOcrReader:
    reader = MistralOcrReader(config("mistral"), transport=transport)
    await reader.start()
    return reader


async def zhipu(transport: Replies) -> ZhipuOcrReader:
    reader = ZhipuOcrReader(config("zhipu"), transport=transport)
    await reader.start()
    return reader


async def test_mistral_reads_a_document_url_with_exactly_this_request() -> None:
    recorded = fixture_json("mistral/ocr_arxiv.json")
    transport = Replies([MockResponse.json(recorded)])
    reader = await mistral(transport)
    request = OcrRequest(
        "mistral/mistral-ocr-latest",
        Source(url=ARXIV),
        pages=(0, 1, 2),
        include_image_base64=True,
        options={"image_limit": 5, "image_min_size": 100},
    )

    result = await reader.read(request, MISTRAL)

    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", "https://api.mistral.ai/v1/ocr")
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert json_body(sent) == {
        "model": "mistral-ocr-latest",
        "document": {"type": "document_url", "document_url": ARXIV},
        "pages": [0, 1, 2],
        "include_image_base64": True,
        "image_limit": 5,
        "image_min_size": 100,
    }
    assert [p.index for p in result.pages] == [1, 2, 3, 27, 28, 29]
    second = result.pages[1]
    assert second.markdown.startswith("![img-0.jpeg](img-0.jpeg)\nFigure 1: Illustration of our proposed method ATC.")
    assert second.images[0]["id"] == "img-0.jpeg"
    assert second.images[0]["bottom_right_y"] == 649
    assert second.dimensions == {"dpi": 200, "height": 2200, "width": 1700}
    assert result.pages[2].dimensions == {}
    assert result.model == "mistral-ocr-2503-completion"
    assert result.doc_size_bytes is None
    assert result.native is None


async def test_mistral_reads_an_uploaded_image_inline_as_a_data_uri() -> None:
    transport = Replies([MockResponse.json(fixture_json("mistral/ocr_handwriting_image.json"))])
    reader = await mistral(transport)
    png = Blob(b"\x89PNG\r\n\x1a\n handwriting", "image/png", "note.png")

    result = await reader.read(OcrRequest("m", Source(blob=png), kind="image"), MISTRAL)

    document = json_body(transport.requests[0])["document"]
    assert document == {
        "type": "image_url",
        "image_url": "data:image/png;base64," + base64.b64encode(png.data).decode(),
    }
    assert result.doc_size_bytes == 573156
    assert result.pages[0].markdown.startswith("This is a handwriting test")


async def test_a_document_annotation_keeps_mistrals_whole_answer() -> None:
    recorded = {**fixture_json("mistral/ocr_handwriting_image.json"), "document_annotation": '{"title": "test"}'}
    reader = await mistral(Replies([MockResponse.json(recorded)]))
    result = await reader.read(OcrRequest("m", Source(url=ARXIV)), MISTRAL)
    assert result.native == recorded


async def test_mistral_errors_are_typed_with_their_param() -> None:
    body = fixture_json("mistral/error_unknown_model.json")
    reader = await mistral(Replies([MockResponse.json(body, status=400)]))
    with pytest.raises(InvalidRequest) as caught:
        await reader.read(OcrRequest("m", Source(url=ARXIV)), MISTRAL)
    assert caught.value.param == "model"
    assert "A human-readable description of the error." in caught.value.message


def test_negative_pages_fail_before_anything_is_sent() -> None:
    for reader in (MistralOcrReader, ZhipuOcrReader):
        with pytest.raises(InvalidRequest) as caught:
            reader(config("mistral"), transport=Replies([])).check_ocr(
                OcrRequest("m", Source(url=ARXIV), pages=(-1,)), MISTRAL
            )
        assert caught.value.param == "pages"


async def test_glm_ocr_reads_a_url_through_layout_parsing_and_answers_in_the_services_page_shape() -> None:
    transport = Replies([MockResponse.json(fixture_json("zhipu/layout_parsing.json"))])
    reader = await zhipu(transport)
    url = "https://cdn.bigmodel.cn/static/logo/introduction.png"

    result = await reader.read(
        OcrRequest("zhipu/glm-ocr", Source(url=url), kind="image", options={"return_crop_images": True}), GLM
    )

    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", "https://open.bigmodel.cn/api/paas/v4/layout_parsing")
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert json_body(sent) == {"model": "glm-ocr", "file": url, "return_crop_images": True}
    (page,) = result.pages
    assert (page.index, page.markdown) == (0, "# 文档标题\n这是文档内容...")
    assert page.dimensions == {"height": 800, "width": 600}
    assert result.model == "GLM-OCR"


async def test_glm_ocr_sends_an_upload_as_base64_and_pages_as_a_range() -> None:
    transport = Replies([MockResponse.json(fixture_json("zhipu/layout_parsing_two_pages.json"))])
    reader = await zhipu(transport)

    result = await reader.read(OcrRequest("m", Source(blob=PDF), pages=(3, 4)), GLM)

    body = json_body(transport.requests[0])
    assert body == {
        "model": "glm-ocr",
        "file": base64.b64encode(PDF.data).decode(),
        "start_page_id": 4,
        "end_page_id": 5,
    }
    assert [(p.index, p.markdown) for p in result.pages] == [
        (3, "# Doc title\n\nThis is the document content..."),
        (4, "Second page"),
    ]


async def test_glm_ocr_leaves_out_the_pages_of_the_range_that_were_not_asked_for() -> None:
    reader = await zhipu(Replies([MockResponse.json(fixture_json("zhipu/layout_parsing_two_pages.json"))]))
    result = await reader.read(OcrRequest("m", Source(blob=PDF), pages=(0,)), GLM)
    assert [p.index for p in result.pages] == [0]


async def test_zhipu_errors_are_typed_and_arrears_is_not_a_wrong_key() -> None:
    arrears = MockResponse.json(fixture_json("zhipu/error_arrears.json"), status=429)
    unknown = MockResponse.json(fixture_json("zhipu/error_model_not_found.json"), status=400)
    reader = await zhipu(Replies([arrears, unknown]))

    with pytest.raises(UpstreamError, match="HTTP 402") as owed:
        await reader.read(OcrRequest("m", Source(url=ARXIV)), GLM)
    with pytest.raises(InvalidRequest, match="模型不存在"):
        await reader.read(OcrRequest("m", Source(url=ARXIV)), GLM)
    assert "您的账户已欠费" in owed.value.message
