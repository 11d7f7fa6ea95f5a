"""Together's image generation through ``TogetherImages`` over a ``MockTransport``: the service's
fields mapped to Together's (sizes to pixels, steps, the safety checker, input images), the
recorded answers (fixtures/together/README.md) read in ``index`` order, what Together cannot do
refused before any call, and its errors (OpenAI's shape) as typed errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.providers.emulators import fixture_json
from tests.providers.media_upstream import BEARER, b64_image, json_body, media_spec, open_adapter, replay
from unigate.core.media import Blob, GeneratedImage, ImageRequest, Source
from unigate.errors import InvalidRequest, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.openai_media import TogetherImages
from unigate.providers.transport.mock import Handler, MockTransport

BASE = "https://api.together.xyz/v1"
SCHNELL = media_spec("together", "flux/schnell", "black-forest-labs/FLUX.1-schnell")
KONTEXT = media_spec("together", "flux/kontext-pro/image-to-image", "black-forest-labs/FLUX.1-kontext-pro")
FLUX2_EDIT = media_spec("together", "blackforestlabs/flux-2-edit", "black-forest-labs/FLUX.2-dev")
PNG = Blob(b64_image("together/images_b64.json", 1), "image/png", "t-rex.png")


async def together(handler: Handler) -> tuple[TogetherImages, MockTransport]:
    return await open_adapter(TogetherImages, "together", BASE, handler)


async def sent_body(request: ImageRequest, model: Any = SCHNELL) -> dict[str, Any]:
    adapter, transport = await together(replay("together/images_url.json"))
    adapter.check_image(request, model)
    await adapter.generate(request, model)
    body: dict[str, Any] = json_body(transport.requests[0])
    return body


async def test_a_flux_request_in_the_service_fields_becomes_togethers() -> None:
    adapter, transport = await together(replay("together/images_url.json"))
    request = ImageRequest(
        model="flux/schnell",
        prompt="A cartoon of an astronaut riding a horse on the moon",
        count=2,
        size="landscape_16_9",
        options={"num_inference_steps": 4, "seed": 42, "enable_safety_checker": False, "guidance_scale": 3.5},
    )
    adapter.check_image(request, SCHNELL)
    result = await adapter.generate(request, SCHNELL)
    (call,) = transport.requests
    assert (call.method, call.url) == ("POST", f"{BASE}/images/generations")
    assert call.headers["Authorization"] == BEARER
    assert json_body(call) == {
        "model": "black-forest-labs/FLUX.1-schnell",
        "prompt": "A cartoon of an astronaut riding a horse on the moon",
        "n": 2,
        "response_format": "base64",
        "width": 1024,
        "height": 576,
        "steps": 4,
        "seed": 42,
        "guidance_scale": 3.5,
        "disable_safety_checker": True,
    }
    recorded = fixture_json("together/images_url.json")
    assert result.images == (GeneratedImage(url=recorded["data"][0]["url"]),)
    assert result.model == "black-forest-labs/FLUX.1-schnell"


@pytest.mark.parametrize(
    ("request_", "dimensions"),
    [
        (ImageRequest(model="m", prompt="p", size="1280x720"), (1280, 720)),
        (ImageRequest(model="m", prompt="p", size="square"), (512, 512)),
        (ImageRequest(model="m", prompt="p", options={"image_size": {"width": 896, "height": 1152}}), (896, 1152)),
        (ImageRequest(model="m", prompt="p", options={"aspect_ratio": "16:9"}), (1376, 768)),
    ],
)
async def test_sizes_arrive_as_pixels(request_: ImageRequest, dimensions: tuple[int, int]) -> None:
    body = await sent_body(request_)
    assert (body["width"], body["height"]) == dimensions


async def test_auto_leaves_the_size_to_together() -> None:
    body = await sent_body(ImageRequest(model="m", prompt="p", size="auto", options={"negative_prompt": "blur"}))
    assert body["negative_prompt"] == "blur"
    assert "width" not in body
    assert "height" not in body


async def test_kontext_takes_one_image_url_and_the_answer_is_read_in_index_order() -> None:
    adapter, transport = await together(replay("together/images_b64.json"))
    request = ImageRequest(
        model="flux/kontext-pro/image-to-image",
        prompt="Add a crown to the T-rex's head.",
        images=(Source(url="https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/t-rex.png"),),
        output_format="png",
        options={"aspect_ratio": "1:1"},
    )
    adapter.check_image(request, KONTEXT)
    result = await adapter.generate(request, KONTEXT)
    body = json_body(transport.requests[0])
    assert body["image_url"] == "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/t-rex.png"
    assert "reference_images" not in body
    assert (body["width"], body["height"], body["output_format"]) == (1024, 1024, "png")
    assert [image.blob for image in result.images] == [
        Blob(b64_image("together/images_b64.json", 1), "image/png"),  # index 0
        Blob(b64_image("together/images_b64.json", 0), "image/png"),  # index 1
    ]
    assert result.model == "black-forest-labs/FLUX.1-kontext-pro"


async def test_flux_2_takes_several_reference_images_uploads_as_data_uris() -> None:
    request = ImageRequest(
        model="blackforestlabs/flux-2-edit",
        prompt="Replace the color of the car to blue",
        images=(Source(url="https://images.pexels.com/photos/3729464/pexels-photo-3729464.jpeg"), Source(blob=PNG)),
    )
    body = await sent_body(request, FLUX2_EDIT)
    assert body["reference_images"] == [
        "https://images.pexels.com/photos/3729464/pexels-photo-3729464.jpeg",
        "data:image/png;base64," + base64.b64encode(PNG.data).decode(),
    ]
    assert "image_url" not in body


@pytest.mark.parametrize(
    ("request_", "model", "error", "param"),
    [
        (
            ImageRequest(model="m", prompt="p", options={"safety_tolerance": "2"}),
            KONTEXT,
            UnsupportedParameter,
            "safety_tolerance",
        ),
        (ImageRequest(model="m", prompt="p", options={"strength": 0.5}), SCHNELL, UnsupportedParameter, "strength"),
        (ImageRequest(model="m", prompt="p", output_format="webp"), FLUX2_EDIT, UnsupportedParameter, "output_format"),
        (ImageRequest(model="m", prompt="p", mask=Source(blob=PNG)), KONTEXT, UnsupportedParameter, "mask"),
        (ImageRequest(model="m", prompt="p", images=(Source(blob=PNG),) * 2), KONTEXT, InvalidRequest, "image_url"),
        (ImageRequest(model="m", prompt="p", size="big"), SCHNELL, InvalidRequest, "size"),
        (
            ImageRequest(model="m", prompt="p", options={"aspect_ratio": "wide"}),
            KONTEXT,
            InvalidRequest,
            "aspect_ratio",
        ),
        (ImageRequest(model="m", prompt=None), SCHNELL, InvalidRequest, "prompt"),
    ],
)
async def test_what_together_cannot_do_is_refused_before_any_call(
    request_: ImageRequest, model: Any, error: type[InvalidRequest], param: str
) -> None:
    adapter, transport = await together(replay("together/images_url.json"))
    with pytest.raises(error) as caught:
        adapter.check_image(request_, model)
    assert (caught.value.status, caught.value.param) == (400, param)
    assert transport.requests == []


async def test_together_errors_become_typed_errors() -> None:
    request = ImageRequest(model="m", prompt="p")
    adapter, _ = await together(replay("openai/error_bad_request.json", status=400))
    with pytest.raises(InvalidRequest) as bad:
        await adapter.generate(request, SCHNELL)
    assert bad.value.param == "messages[1].content"
    adapter, _ = await together(replay("openai/error_invalid_api_key.json", status=401))
    with pytest.raises(UpstreamError) as auth:
        await adapter.generate(request, SCHNELL)
    assert (auth.value.code, auth.value.status) == ("upstream_auth_failed", 502)
    assert "TOGETHER_API_KEY" in auth.value.message
    adapter, _ = await together(replay("openai/error_rate_limit.json", status=429))
    with pytest.raises(RateLimited):
        await adapter.generate(request, SCHNELL)
    adapter, _ = await together(replay("openai/error_server.json", status=500))
    with pytest.raises(UpstreamError) as failed:
        await adapter.generate(request, SCHNELL)
    assert failed.value.status == 502
