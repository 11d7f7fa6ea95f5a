"""ByteDance Seedream on BytePlus ModelArk through ``MockTransport``: the exact
``/images/generations`` bodies per model and size, the images read back as bytes, and the errors.
Recorded payloads: ``fixtures/bytedance/`` (their README gives each source: ModelArk's image
generation API reference and error codes)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.media import Blob, ImageRequest, Source
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.seedream import SeedreamImages
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://ark.ap-southeast.bytepluses.com/api/v3"
V4 = ModelSpec(id="bytedance/seedream-v4-text-to-image", provider="bytedance", upstream_model="seedream-4-0-250828",
               price=Price(0, 0), type="image")  # fmt: skip
V3 = ModelSpec(id="bytedance/seedream-3.0", provider="bytedance", upstream_model="seedream-3-0-t2i-250415",
               price=Price(0, 0), type="image")  # fmt: skip
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"


def answering(payload: bytes, status: int = 200) -> Callable[[Request], MockResponse]:
    return lambda request: MockResponse.json(payload, status=status)


async def make(handler: Callable[[Request], MockResponse]) -> tuple[SeedreamImages, MockTransport]:
    transport = MockTransport(handler)
    adapter = SeedreamImages(provider_config("bytedance", BASE), transport=transport)
    await adapter.start()
    return adapter, transport


async def test_seedream_4_gets_modelarks_2k_size_for_a_preset_and_answers_bytes() -> None:
    seedream, transport = await make(answering(fixture("bytedance/images_b64.json")))
    request = ImageRequest(model="m", prompt="a fox", size="landscape_4_3", options={"seed": 5, "sync_mode": False})
    result = await seedream.generate(request, V4)

    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("POST", f"{BASE}/images/generations")
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert orjson.loads(sent.body) == {
        "model": "seedream-4-0-250828",
        "prompt": "a fox",
        "response_format": "b64_json",
        "watermark": False,
        "size": "2304x1728",
        "seed": 5,
    }
    (image,) = result.images
    assert image.blob is not None
    assert image.blob.content_type == "image/jpeg"
    assert image.blob.data.startswith(b"\xff\xd8\xff")
    assert result.model == "seedream-4-0-250828"


async def test_seedream_3_keeps_the_preset_s_pixels_and_its_guidance_and_watermark() -> None:
    seedream, transport = await make(answering(fixture("bytedance/images_b64.json")))
    request = ImageRequest(
        model="m", prompt="p", size="portrait_16_9", options={"guidance_scale": 2.5, "watermark": True}
    )
    await seedream.generate(request, V3)
    assert orjson.loads(transport.requests[0].body) == {
        "model": "seedream-3-0-t2i-250415",
        "prompt": "p",
        "response_format": "b64_json",
        "watermark": True,
        "size": "576x1024",
        "guidance_scale": 2.5,
    }


@pytest.mark.parametrize(("size", "sent"), [("2k", "2K"), ("4K", "4K"), ("2048x1152", "2048x1152"), ("auto", None)])
async def test_size_classes_and_pixels_go_as_they_are(size: str, sent: str | None) -> None:
    seedream, transport = await make(answering(fixture("bytedance/images_b64.json")))
    await seedream.generate(ImageRequest(model="m", prompt="p", size=size), V4)
    assert orjson.loads(transport.requests[0].body).get("size") == sent


async def test_an_edit_sends_its_images_and_each_image_asked_for_is_one_call() -> None:
    seedream, transport = await make(answering(fixture("bytedance/images_b64.json")))
    one = (Source(url="https://example.com/cat.png"),)
    two = (*one, Source(blob=Blob(JPEG, "image/jpeg")))
    await seedream.generate(ImageRequest(model="m", prompt="p", images=one), V4)
    result = await seedream.generate(ImageRequest(model="m", prompt="p", images=two, count=2, options={"seed": 1}), V4)

    bodies = [orjson.loads(r.body) for r in transport.requests]
    assert bodies[0]["image"] == "https://example.com/cat.png"
    assert bodies[1]["image"] == ["https://example.com/cat.png", "data:image/jpeg;base64,/9j/4AAQSkZJRg=="]
    assert (bodies[1].pop("seed"), bodies[2].pop("seed")) == (1, 2)
    assert bodies[1] == bodies[2]
    assert len(result.images) == 2


async def test_an_image_withheld_by_moderation_is_a_400_saying_so() -> None:
    seedream, _ = await make(answering(fixture("bytedance/images_partial.json")))
    with pytest.raises(InvalidRequest) as caught:
        await seedream.generate(ImageRequest(model="m", prompt="p"), V4)
    assert caught.value.code == "content_moderated"
    assert "may contain sensitive information" in caught.value.message


async def test_modelarks_errors_are_mapped() -> None:
    seedream, _ = await make(answering(fixture("bytedance/error_invalid_size.json"), status=400))
    with pytest.raises(InvalidRequest) as refused:
        await seedream.generate(ImageRequest(model="m", prompt="p", size="640x480"), V4)
    assert refused.value.param == "size"
    assert "at least 921600 pixels" in refused.value.message

    seedream, _ = await make(answering(fixture("bytedance/error_auth.json"), status=401))
    with pytest.raises(UpstreamError) as auth:
        await seedream.generate(ImageRequest(model="m", prompt="p"), V4)
    assert auth.value.code == "upstream_auth_failed"
    assert "BYTEDANCE_API_KEY" in auth.value.message


def test_a_mask_is_refused_before_anything_is_sent() -> None:
    seedream = SeedreamImages(provider_config("bytedance", BASE), transport=MockTransport(answering(b"{}")))
    with pytest.raises(InvalidRequest) as caught:
        seedream.check_image(ImageRequest(model="m", prompt="p", mask=Source(url="https://e.com/m.png")), V4)
    assert caught.value.param == "mask"
