"""OpenAI's image endpoints through ``OpenAIMedia`` over a ``MockTransport``: the exact request
(URL, key, JSON or multipart fields) for generations and edits, the canonical images read from
the recorded answers (fixtures/openai_media/README.md says where each comes from), the upstream's
errors as our typed errors, and the registry's wiring of OpenAI, xAI and Together media."""

from __future__ import annotations

import base64

import pytest

from tests.providers.emulators import fixture_json
from tests.providers.media_upstream import (
    BEARER,
    b64_image,
    fields_of,
    form_parts,
    json_body,
    media_spec,
    open_adapter,
    replay,
)
from unigate.catalog.spec import ModelSpec
from unigate.core.media import Blob, ImageRequest, Source
from unigate.core.services import Modality
from unigate.errors import InvalidRequest, ProviderNotConfigured, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.openai_media import OpenAIMedia, TogetherImages, XaiImages
from unigate.providers.openai_media.answers import images_of, sniff_image
from unigate.providers.registry import build_providers
from unigate.providers.router import Router
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import Handler
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, Settings

BASE = "https://api.openai.com/v1"
GPT_IMAGE_1 = media_spec("openai", "openai/gpt-image-1", "gpt-image-1")
GPT_IMAGE_15 = media_spec("openai", "openai/gpt-image-1-5", "gpt-image-1.5")
DALL_E_2 = media_spec("openai", "dall-e-2", "dall-e-2")
DALL_E_3 = media_spec("openai", "dall-e-3", "dall-e-3")
PNG = Blob(b64_image("openai_media/images_gpt_image.json"), "image/png", "body-lotion.png")
MASK = Blob(b64_image("openai_media/images_dalle2_b64.json"), "image/png", "mask.png")


async def media(handler: Handler) -> tuple[OpenAIMedia, list[Request]]:
    adapter, transport = await open_adapter(OpenAIMedia, "openai", BASE, handler)
    return adapter, transport.requests


async def test_a_gpt_image_generation_sends_no_response_format_and_reads_the_png() -> None:
    adapter, sent = await media(replay("openai_media/images_gpt_image.json"))
    request = ImageRequest(
        model="openai/gpt-image-1",
        prompt="A cute baby sea otter",
        size="1024x1024",
        quality="high",
        options={"background": "transparent", "moderation": "low", "response_format": "url"},
        user="user-1234",
    )
    adapter.check_image(request, GPT_IMAGE_1)
    result = await adapter.generate(request, GPT_IMAGE_1)
    (call,) = sent
    assert (call.method, call.url) == ("POST", f"{BASE}/images/generations")
    assert call.headers["Authorization"] == BEARER
    assert json_body(call) == {
        "model": "gpt-image-1",
        "prompt": "A cute baby sea otter",
        "n": 1,
        "size": "1024x1024",
        "quality": "high",
        "background": "transparent",
        "moderation": "low",
        "user": "user-1234",
    }  # the service's response_format is the gateway's to render: GPT image models refuse it
    (image,) = result.images
    assert image.blob == Blob(b64_image("openai_media/images_gpt_image.json"), "image/png")
    assert image.url is None
    assert result.model == "gpt-image-1"


async def test_dall_e_is_asked_for_base64_and_every_image_comes_back_in_order() -> None:
    adapter, sent = await media(replay("openai_media/images_dalle2_b64.json"))
    request = ImageRequest(model="dall-e-2", prompt="A T-Rex on a beach", count=2, size="512x512")
    result = await adapter.generate(request, DALL_E_2)
    assert json_body(sent[0]) == {
        "model": "dall-e-2",
        "prompt": "A T-Rex on a beach",
        "n": 2,
        "size": "512x512",
        "response_format": "b64_json",
    }
    blobs = [image.blob for image in result.images]
    assert [b.data if b else None for b in blobs] == [
        b64_image("openai_media/images_dalle2_b64.json", 0),
        b64_image("openai_media/images_dalle2_b64.json", 1),
    ]
    assert [b.content_type if b else None for b in blobs] == ["image/png"] * 2  # sniffed: dall-e says no type


async def test_a_dall_e_3_url_answer_keeps_the_url_and_the_revised_prompt() -> None:
    adapter, sent = await media(replay("openai_media/images_dalle3_url.json"))
    request = ImageRequest(model="dall-e-3", prompt="A T-Rex relaxing", quality="hd", options={"style": "natural"})
    result = await adapter.generate(request, DALL_E_3)
    assert json_body(sent[0])["style"] == "natural"
    assert json_body(sent[0])["quality"] == "hd"
    (image,) = result.images
    recorded = fixture_json("openai_media/images_dalle3_url.json")["data"][0]
    assert image.blob is None
    assert image.url == recorded["url"]
    assert image.revised_prompt == recorded["revised_prompt"]
    assert image.revised_prompt is not None
    assert image.revised_prompt.startswith("Visualize a T-Rex dinosaur")


async def test_an_edit_of_several_uploads_with_a_mask_is_multipart() -> None:
    adapter, sent = await media(replay("openai_media/images_gpt_image.json"))
    second = Blob(MASK.data, "image/webp", "bath-bomb.webp")
    request = ImageRequest(
        model="openai/gpt-image-1-5",
        prompt="Create a lovely gift basket with these items in it",
        size="1024x1024",
        output_format="webp",
        images=(Source(blob=PNG), Source(blob=second)),
        mask=Source(blob=MASK),
        options={"input_fidelity": "high", "output_compression": 80},
        edit=True,
    )
    adapter.check_image(request, GPT_IMAGE_15)
    result = await adapter.generate(request, GPT_IMAGE_15)
    (call,) = sent
    assert call.url == f"{BASE}/images/edits"
    assert call.headers["Authorization"] == BEARER
    parts = form_parts(call)
    assert fields_of(parts) == {
        "model": ["gpt-image-1.5"],
        "prompt": ["Create a lovely gift basket with these items in it"],
        "n": ["1"],
        "size": ["1024x1024"],
        "output_format": ["webp"],
        "input_fidelity": ["high"],
        "output_compression": ["80"],
    }
    files = [(p.name, p.filename, p.content_type, p.data) for p in parts if p.filename is not None]
    assert files == [
        ("image[]", "body-lotion.png", "image/png", PNG.data),
        ("image[]", "bath-bomb.webp", "image/webp", MASK.data),
        ("mask", "mask.png", "image/png", MASK.data),
    ]
    # The answer's own output_format (png) types the bytes, which are a PNG.
    assert result.images[0].blob == Blob(PNG.data, "image/png")


async def test_a_dall_e_2_edit_sends_one_image_and_asks_for_base64() -> None:
    adapter, sent = await media(replay("openai_media/images_dalle2_b64.json"))
    request = ImageRequest(model="dall-e-2", prompt="Add a flamingo", images=(Source(blob=PNG),), edit=True)
    adapter.check_image(request, DALL_E_2)
    await adapter.generate(request, DALL_E_2)
    parts = form_parts(sent[0])
    assert fields_of(parts)["response_format"] == ["b64_json"]
    assert [(p.name, p.data) for p in parts if p.filename] == [("image", PNG.data)]


async def test_an_edit_with_a_url_goes_as_json_with_the_uploads_as_data_uris() -> None:
    adapter, sent = await media(replay("openai_media/images_gpt_image.json"))
    request = ImageRequest(
        model="openai/gpt-image-1",
        prompt="Add a watercolor effect",
        images=(Source(url="https://example.com/source-image.png"), Source(blob=PNG)),
        mask=Source(blob=MASK),
        edit=True,
    )
    await adapter.generate(request, GPT_IMAGE_1)
    call = sent[0]
    assert call.url == f"{BASE}/images/edits"
    uri = "data:image/png;base64," + base64.b64encode(PNG.data).decode()
    assert json_body(call) == {
        "model": "gpt-image-1",
        "prompt": "Add a watercolor effect",
        "images": [{"image_url": "https://example.com/source-image.png"}, {"image_url": uri}],
        "mask": {"image_url": "data:image/png;base64," + base64.b64encode(MASK.data).decode()},
        "n": 1,
    }


async def test_input_images_make_an_edit_wherever_they_arrived() -> None:
    adapter, sent = await media(replay("openai_media/images_gpt_image.json"))
    await adapter.generate(ImageRequest(model="x", prompt="p", images=(Source(blob=PNG),)), GPT_IMAGE_1)
    assert sent[0].url == f"{BASE}/images/edits"


@pytest.mark.parametrize(
    ("request_", "spec", "error", "param"),
    [
        (ImageRequest(model="m", prompt=None), GPT_IMAGE_1, InvalidRequest, "prompt"),
        (ImageRequest(model="m", prompt="p", options={"seed": 7}), GPT_IMAGE_1, UnsupportedParameter, "seed"),
        (ImageRequest(model="m", prompt="p", edit=True), GPT_IMAGE_1, InvalidRequest, "image"),
        (ImageRequest(model="m", prompt="p", images=(Source(blob=PNG),)), DALL_E_3, InvalidRequest, "model"),
        (ImageRequest(model="m", prompt="p", images=(Source(blob=PNG),) * 2), DALL_E_2, InvalidRequest, "image"),
        (
            ImageRequest(model="m", prompt="p", images=(Source(url="https://x/y.png"),)),
            DALL_E_2,
            InvalidRequest,
            "image",
        ),
    ],
)
async def test_what_openai_would_refuse_is_refused_before_any_call(
    request_: ImageRequest, spec: ModelSpec, error: type[InvalidRequest], param: str
) -> None:
    adapter, sent = await media(replay("openai_media/images_gpt_image.json"))
    with pytest.raises(error) as caught:
        adapter.check_image(request_, spec)
    assert (caught.value.status, caught.value.param) == (400, param)
    assert sent == []


async def test_upstream_errors_become_typed_errors() -> None:
    request = ImageRequest(model="openai/gpt-image-1", prompt="p")
    adapter, _ = await media(replay("openai_media/error_unknown_parameter.json", status=400))
    with pytest.raises(InvalidRequest) as bad:
        await adapter.generate(request, GPT_IMAGE_1)
    assert bad.value.param == "response_format"
    assert "Unknown parameter: 'response_format'." in bad.value.message

    adapter, _ = await media(replay("openai/error_invalid_api_key.json", status=401))
    with pytest.raises(UpstreamError) as auth:
        await adapter.generate(request, GPT_IMAGE_1)
    assert (auth.value.status, auth.value.code) == (502, "upstream_auth_failed")
    assert "OPENAI_API_KEY" in auth.value.message
    assert "sk-proj" not in auth.value.message

    adapter, _ = await media(replay("openai/error_rate_limit.json", status=429, headers={"Retry-After": "2"}))
    with pytest.raises(RateLimited) as limited:
        await adapter.generate(request, GPT_IMAGE_1)
    assert (limited.value.status, limited.value.headers) == (429, {"Retry-After": "2"})

    adapter, _ = await media(replay("openai/error_server.json", status=500))
    with pytest.raises(UpstreamError) as failed:
        await adapter.generate(request, GPT_IMAGE_1)
    assert failed.value.status == 502
    assert "HTTP 500" in failed.value.message


def test_image_types_are_read_from_the_bytes_before_what_the_answer_declares() -> None:
    assert sniff_image(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff_image(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"GIF89a\x01\x00") == "image/gif"
    assert sniff_image(b"not an image") is None
    raw = base64.b64encode(b"unknown bytes").decode()
    (image,) = images_of({"data": [{"b64_json": raw}]}, provider="openai", output_format="webp")
    assert image.blob == Blob(b"unknown bytes", "image/webp")


@pytest.mark.parametrize(
    "answer",
    [{"data": []}, {"created": 1}, {"data": [{"b64_json": "%%%"}]}, {"data": [{"revised_prompt": "x"}]}, []],
)
def test_an_answer_without_a_usable_image_is_an_upstream_error(answer: object) -> None:
    with pytest.raises(UpstreamError):
        images_of(answer, provider="openai")


def _settings(env: dict[str, str]) -> Settings:
    off = LocalModelSettings(enabled=False), EmbeddingModelSettings(enabled=False)
    return Settings(local=off[0], embeddings=off[1], provider_env=env)


def test_the_registry_gives_openai_xai_and_together_their_media() -> None:
    env = {"OPENAI_API_KEY": "o", "XAI_API_KEY": "x", "TOGETHER_API_KEY": "t"}
    _, services = build_providers(_settings(env), models=[])
    openai = services.images("openai")
    assert isinstance(openai, OpenAIMedia)
    router = services["openai"].capabilities.chat
    assert isinstance(router, Router)
    assert openai.upstream is router.deployments[0].provider.upstream  # type: ignore[attr-defined]
    assert services.speaker("openai") is openai
    assert services.transcriber("openai") is openai
    assert services["openai"].serves >= {Modality.CHAT, Modality.IMAGES, Modality.SPEECH, Modality.TRANSCRIPTION}
    assert isinstance(services.images("xai"), XaiImages)
    assert isinstance(services.images("together"), TogetherImages)
    assert services["xai"].serves == {Modality.CHAT, Modality.EMBEDDINGS, Modality.IMAGES}
    assert services.speaker("together") is None
    assert openai.config.base_url == BASE


def test_unconfigured_media_answers_503_naming_the_key() -> None:
    _, services = build_providers(_settings({}), models=[])
    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        services.speaker("openai")
    with pytest.raises(ProviderNotConfigured, match="TOGETHER_API_KEY"):
        services.images("together")
