"""xAI's image generation through ``XaiImages`` over a ``MockTransport``: the exact request, the
recorded answers (fixtures/xai/README.md) read into canonical images (``data:`` URIs and
``mime_type`` included), moderation blocks, and xAI's errors (its 400 for a wrong key is ours to
treat as the upstream's credentials failing, never echoed)."""

from __future__ import annotations

import pytest

from tests.providers.emulators import fixture_json
from tests.providers.media_upstream import BEARER, b64_image, json_body, media_spec, open_adapter, replay
from unigate.core.media import Blob, GeneratedImage, ImageRequest, Source
from unigate.errors import InvalidRequest, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.openai_media import XaiImages
from unigate.providers.transport.mock import Handler, MockResponse, MockTransport

BASE = "https://api.x.ai/v1"
GROK = media_spec("xai", "x-ai/grok-imagine-image", "grok-imagine-image")


async def xai(handler: Handler) -> tuple[XaiImages, MockTransport]:
    return await open_adapter(XaiImages, "xai", BASE, handler)


async def test_the_request_and_the_inline_images() -> None:
    adapter, transport = await xai(replay("xai/images_b64.json"))
    request = ImageRequest(
        model="x-ai/grok-imagine-image",
        prompt="A collage of London landmarks in a stenciled street-art style",
        count=2,
        options={"aspect_ratio": "16:9", "resolution": "1k", "response_format": "url"},
    )
    adapter.check_image(request, GROK)
    result = await adapter.generate(request, GROK)
    (call,) = transport.requests
    assert (call.method, call.url) == ("POST", f"{BASE}/images/generations")
    assert call.headers["Authorization"] == BEARER
    assert json_body(call) == {
        "model": "grok-imagine-image",
        "prompt": "A collage of London landmarks in a stenciled street-art style",
        "n": 2,
        "response_format": "b64_json",
        "aspect_ratio": "16:9",
        "resolution": "1k",
    }
    assert result.images == (
        GeneratedImage(blob=Blob(b64_image("xai/images_b64.json", 0), "image/png")),  # a data: URI
        GeneratedImage(blob=Blob(b64_image("xai/images_b64.json", 1), "image/png")),
    )
    assert result.model == "grok-imagine-image"


async def test_a_url_answer_keeps_the_url_and_the_revised_prompt() -> None:
    adapter, _ = await xai(replay("xai/images_url.json"))
    result = await adapter.generate(ImageRequest(model="m", prompt="A cat in a tree"), GROK)
    recorded = fixture_json("xai/images_url.json")["data"][0]
    assert result.images == (GeneratedImage(url=recorded["url"], revised_prompt=recorded["revised_prompt"]),)


async def test_a_prompt_blocked_by_moderation_is_a_400() -> None:
    blocked = {"block_reason": "The prompt was flagged by moderation.", "data": [], "usage": {"cost_in_usd_ticks": 0}}
    adapter, _ = await xai(lambda request: MockResponse.json(blocked))
    with pytest.raises(InvalidRequest) as caught:
        await adapter.generate(ImageRequest(model="m", prompt="p"), GROK)
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, "prompt", "content_policy_violation")
    assert "flagged by moderation" in caught.value.message


@pytest.mark.parametrize(
    ("request_", "error", "param"),
    [
        (ImageRequest(model="m", prompt="p", size="1024x1024"), UnsupportedParameter, "size"),
        (ImageRequest(model="m", prompt="p", output_format="png"), UnsupportedParameter, "output_format"),
        (ImageRequest(model="m", prompt="p", images=(Source(url="https://x/y.png"),)), InvalidRequest, "image"),
        (ImageRequest(model="m", prompt="p", options={"seed": 1}), UnsupportedParameter, "seed"),
        (ImageRequest(model="m", prompt=""), InvalidRequest, "prompt"),
    ],
)
async def test_what_xai_refuses_is_refused_before_any_call(
    request_: ImageRequest, error: type[InvalidRequest], param: str
) -> None:
    adapter, transport = await xai(replay("xai/images_url.json"))
    with pytest.raises(error) as caught:
        adapter.check_image(request_, GROK)
    assert (caught.value.status, caught.value.param) == (400, param)
    assert transport.requests == []


async def test_a_wrong_key_answered_with_a_400_is_an_upstream_credentials_failure() -> None:
    adapter, _ = await xai(replay("xai/error_invalid_key.json", status=400))
    with pytest.raises(UpstreamError) as caught:
        await adapter.generate(ImageRequest(model="m", prompt="p"), GROK)
    assert (caught.value.status, caught.value.code) == (502, "upstream_auth_failed")
    assert "XAI_API_KEY" in caught.value.message
    assert "na***ys" not in caught.value.message


async def test_xai_errors_become_typed_errors() -> None:
    request = ImageRequest(model="m", prompt="p")
    adapter, _ = await xai(replay("xai/error_argument.json", status=400))
    with pytest.raises(InvalidRequest) as bad:
        await adapter.generate(request, GROK)
    assert "Argument not supported: quality" in bad.value.message
    adapter, _ = await xai(replay("openai/error_rate_limit.json", status=429, headers={"Retry-After": "3"}))
    with pytest.raises(RateLimited) as limited:
        await adapter.generate(request, GROK)
    assert limited.value.headers == {"Retry-After": "3"}
    adapter, _ = await xai(replay("openai/error_server.json", status=500))
    with pytest.raises(UpstreamError) as failed:
        await adapter.generate(request, GROK)
    assert failed.value.status == 502
