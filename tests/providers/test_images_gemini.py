"""Google's image models on the Gemini API through ``MockTransport``: the ``:generateContent``
bodies of the Gemini image models (prompt, input images, image config, search) and Imagen's
``:predict``, the images read back (thought images skipped), and the errors. Recorded payloads:
``fixtures/gemini/image_*.json`` and ``imagen_predict.json`` (the README gives each source: the
Gemini API's image generation guide and reference, Imagen's reference)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.media import Blob, ImageRequest, Source
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.gemini import GeminiProvider
from unigate.providers.gemini.images import GeminiImages
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://generativelanguage.googleapis.com"
PNG_BYTES = b"\x89PNG\r\n\x1a\n"


def spec(upstream: str) -> ModelSpec:
    return ModelSpec(id=f"google/{upstream}", provider="gemini", upstream_model=upstream, price=Price(0, 0))


Make = Callable[[Callable[[Request], MockResponse]], Awaitable[tuple[GeminiImages, MockTransport]]]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """The images adapter beside its chat adapter, as the registry builds them; the chat adapter
    starts and closes what they share."""
    started: list[GeminiProvider] = []

    async def build(handler: Callable[[Request], MockResponse]) -> tuple[GeminiImages, MockTransport]:
        transport = MockTransport(handler)
        chat = GeminiProvider(provider_config("gemini", BASE), transport=transport)
        await chat.start()
        started.append(chat)
        return GeminiImages(chat.config, chat.upstream, chat.fetcher), transport

    yield build
    for chat in started:
        await chat.close()


def answering(name: str, status: int = 200) -> Callable[[Request], MockResponse]:
    return lambda request: MockResponse.json(fixture(f"gemini/{name}"), status=status)


async def test_a_gemini_image_model_is_asked_for_text_and_image_with_its_image_config(make: Make) -> None:
    gemini, transport = await make(answering("image_thinking.json"))
    request = ImageRequest(
        model="google/nano-banana-pro-edit",
        prompt="Turn this sketch into a recipe infographic",
        images=(Source(blob=Blob(PNG_BYTES, "image/png")),),
        options={"aspect_ratio": "16:9", "resolution": "2k", "enable_web_search": True, "provider": "google"},
    )
    result = await gemini.generate(request, spec("gemini-3-pro-image"))

    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("POST", f"{BASE}/v1beta/models/gemini-3-pro-image:generateContent")
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert orjson.loads(sent.body) == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Turn this sketch into a recipe infographic"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                ],
            }
        ],
        "generationConfig": {
            "responseModalities": ["TEXT", "IMAGE"],
            "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
        },
        "tools": [{"googleSearch": {}}],
    }
    (image,) = result.images  # the thought image is a draft, not an answer
    assert image.blob is not None
    assert image.blob.content_type == "image/jpeg"
    assert result.model == "gemini-3-pro-image"


async def test_a_size_becomes_the_nearest_aspect_ratio_and_each_image_is_one_call(make: Make) -> None:
    gemini, transport = await make(answering("image_generate_content.json"))
    request = ImageRequest(model="m", prompt="a nano banana dish", size="1000x700", count=2, options={"seed": 9})
    result = await gemini.generate(request, spec("gemini-2.5-flash-image"))

    first, second = (orjson.loads(r.body) for r in transport.requests)
    assert second["generationConfig"].pop("seed") == 10  # the next seed: not the same image twice
    assert first["contents"] == second["contents"]
    assert first["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "3:2"},
        "seed": 9,
    }
    assert [i.blob.data[:8] if i.blob else None for i in result.images] == [PNG_BYTES, PNG_BYTES]
    assert result.model == "gemini-2.5-flash-image"


async def test_an_image_withheld_by_the_safety_filters_is_a_400(make: Make) -> None:
    gemini, _ = await make(answering("image_safety.json"))
    with pytest.raises(InvalidRequest) as caught:
        await gemini.generate(ImageRequest(model="m", prompt="p"), spec("gemini-2.5-flash-image"))
    assert caught.value.code == "content_filtered"
    assert "IMAGE_SAFETY" in caught.value.message


async def test_a_blocked_prompt_is_a_400_too(make: Make) -> None:
    gemini, _ = await make(answering("prompt_blocked.json"))
    with pytest.raises(InvalidRequest, match="safety filters withheld the image"):
        await gemini.generate(ImageRequest(model="m", prompt="p"), spec("gemini-2.5-flash-image"))


async def test_imagen_is_asked_through_predict(make: Make) -> None:
    gemini, transport = await make(answering("imagen_predict.json"))
    request = ImageRequest(
        model="m",
        prompt="Robot holding a red skateboard",
        count=2,
        size="landscape_16_9",
        options={"person_generation": "allow_adult", "seed": 3, "add_watermark": False},
    )
    result = await gemini.generate(request, spec("imagen-4.0-generate-001"))

    (sent,) = transport.requests
    assert sent.url == f"{BASE}/v1beta/models/imagen-4.0-generate-001:predict"
    assert orjson.loads(sent.body) == {
        "instances": [{"prompt": "Robot holding a red skateboard"}],
        "parameters": {
            "sampleCount": 2,
            "aspectRatio": "16:9",
            "personGeneration": "allow_adult",
            "seed": 3,
            "addWatermark": False,
        },
    }
    assert [i.blob.content_type if i.blob else None for i in result.images] == ["image/png", "image/png"]


async def test_imagen_filtering_every_image_is_a_400(make: Make) -> None:
    filtered = {"predictions": [{"raiFilteredReason": "The prompt could not be submitted."}]}
    gemini, _ = await make(lambda r: MockResponse.json(filtered))
    with pytest.raises(InvalidRequest, match="The prompt could not be submitted"):
        await gemini.generate(ImageRequest(model="m", prompt="p"), spec("imagen-4.0-generate-001"))


async def test_a_wrong_key_is_our_configuration_error(make: Make) -> None:
    gemini, _ = await make(answering("error_api_key_invalid.json", status=400))
    with pytest.raises(UpstreamError) as caught:
        await gemini.generate(ImageRequest(model="m", prompt="p"), spec("gemini-2.5-flash-image"))
    assert caught.value.code == "upstream_auth_failed"
    assert "GEMINI_API_KEY" in caught.value.message


async def test_what_a_model_cannot_take_is_refused_before_anything_is_sent(make: Make) -> None:
    gemini, transport = await make(answering("image_generate_content.json"))
    private = ImageRequest(model="m", prompt="p", images=(Source(url="http://169.254.169.254/latest/meta-data"),))
    with pytest.raises(InvalidRequest) as refused:
        gemini.check_image(private, spec("gemini-2.5-flash-image"))
    assert refused.value.code == "invalid_image_url"
    with pytest.raises(InvalidRequest) as edit:
        gemini.check_image(ImageRequest(model="m", prompt="p", images=private.images), spec("imagen-4.0-generate-001"))
    assert edit.value.param == "image_urls"
    with pytest.raises(InvalidRequest) as mask:
        gemini.check_image(ImageRequest(model="m", prompt="p", mask=Source(url="https://e.com/m.png")), spec("x"))
    assert mask.value.param == "mask"
    assert transport.requests == []
