"""Veo on the Gemini API through ``MockTransport``: the ``:predictLongRunning`` bodies (images
inline, the last frame, reference images, a video to extend, the parameters by the SDK's names),
an operation polled until done and its video read with our key (a redirect to a signed link handed
on), an operation that failed, one the safety filters emptied, one Google no longer knows, and
answers that say nothing usable. Recorded payloads: ``fixtures/gemini/veo_operation_*.json`` (the
README gives their sources)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from tests.providers.media_upstream import media_spec
from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GenerationRequest, JobKind, JobStatus, Submitted
from unigate.errors import InvalidRequest, Overloaded, UnsupportedParameter, UpstreamError
from unigate.providers.gemini import GeminiProvider
from unigate.providers.gemini.video import GeminiVideo
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://generativelanguage.googleapis.com"
OPERATION = "models/veo-2.0-generate-001/operations/fwatcyy2qffd"
DOWNLOAD = f"{BASE}/v1beta/files/w2j2gmodxzib:download?alt=media"
SIGNED = "https://generativelanguage-results.googleusercontent.com/w2j2gmodxzib.mp4?sig=abc"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PNG_URI = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
PNG_B64 = base64.b64encode(PNG).decode()
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32

Make = Callable[[Callable[[Request], MockResponse]], Awaitable[tuple[GeminiVideo, MockTransport]]]


def spec(model_id: str, upstream: str) -> ModelSpec:
    return media_spec("gemini", model_id, upstream, "video")


VEO31_I2V = spec("google/veo-3.1-first-last-image-to-video", "veo-3.1-generate-preview")
VEO2 = spec("veo2", "veo-2.0-generate-001")


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """The video runner beside its chat adapter, as the registry builds them."""
    started: list[tuple[GeminiProvider, GeminiVideo]] = []

    async def build(handler: Callable[[Request], MockResponse]) -> tuple[GeminiVideo, MockTransport]:
        transport = MockTransport(handler)
        chat = GeminiProvider(provider_config("gemini", BASE), transport=transport)
        video = GeminiVideo(chat.upstream)
        await chat.start()
        await video.start()
        started.append((chat, video))
        return video, transport

    yield build
    for chat, video in started:
        await video.close()
        await chat.close()


def request(model: str = "veo2", seconds: float = 8.0, **options: object) -> GenerationRequest:
    prompt = "A close up of two people staring at a cryptic drawing on a wall, torchlight flickering."
    return GenerationRequest(model, JobKind.VIDEO, prompt, options, seconds, "720p:audio")


def operations(*names: str, download: MockResponse | None = None) -> Callable[[Request], MockResponse]:
    left = list(names)

    def handler(req: Request) -> MockResponse:
        if req.method == "POST":
            return MockResponse.json(fixture("gemini/veo_operation_started.json"))
        if req.url == DOWNLOAD:
            return download or MockResponse(302, {"Location": SIGNED}, b"")
        return MockResponse.json(fixture(f"gemini/{left.pop(0)}.json"))

    return handler


async def test_a_first_and_last_frame_video_is_asked_by_the_sdk_s_wire_and_polled_until_done(make: Make) -> None:
    veo, transport = await make(operations("veo_operation_started", "veo_operation_done"))
    asked = request(
        "google/veo-3.1-first-last-image-to-video",
        image_url=PNG_URI,
        last_image_url=PNG_URI,
        aspect_ratio="9:16",
        resolution="1080P",
        duration=6,
        generate_audio=True,
    )
    veo.check_job(asked, VEO31_I2V)
    submitted = await veo.submit(asked, VEO31_I2V, reference="job_1")
    assert submitted == Submitted(upstream_id=OPERATION)

    create = transport.requests[0]
    assert create.url == f"{BASE}/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    assert create.headers["x-goog-api-key"] == UPSTREAM_KEY
    image = {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"}
    assert orjson.loads(create.body) == {
        "instances": [{"prompt": asked.prompt, "image": image, "lastFrame": image}],
        "parameters": {"aspectRatio": "9:16", "resolution": "1080p", "durationSeconds": 6},
    }

    running = await veo.poll(submitted, VEO31_I2V)
    done = await veo.poll(submitted, VEO31_I2V)
    assert running.status is JobStatus.GENERATING
    assert done.status is JobStatus.COMPLETED
    (file,) = done.files
    assert (file.field, file.url, file.blob) == ("video", SIGNED, None)  # public: the downloader fetches it
    assert [r.url for r in transport.requests[1:]] == [f"{BASE}/v1beta/{OPERATION}"] * 2 + [DOWNLOAD]
    assert transport.requests[-1].headers["x-goog-api-key"] == UPSTREAM_KEY


async def test_a_download_answered_directly_is_read_with_our_key(make: Make) -> None:
    direct = MockResponse(200, {"Content-Type": "video/mp4"}, MP4)
    veo, _ = await make(operations("veo_operation_done", download=direct))
    done = await veo.poll(Submitted(upstream_id=OPERATION), VEO2)
    (file,) = done.files
    assert file.blob is not None
    assert file.blob.data == MP4
    assert file.content_type == "video/mp4"


async def test_reference_images_and_an_extension_take_their_own_fields(make: Make) -> None:
    veo, transport = await make(operations())
    references = request("google/veo-3.1-reference-to-video", image_urls=[PNG_URI, PNG_URI], duration=8)
    await veo.submit(references, spec("google/veo-3.1-reference-to-video", "veo-3.1-generate-preview"), reference="r")
    body = orjson.loads(transport.requests[0].body)
    image = {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"}
    assert body["instances"][0]["referenceImages"] == [{"image": image, "referenceType": "asset"}] * 2
    assert body["parameters"] == {"durationSeconds": 8}

    mp4_uri = f"data:video/mp4;base64,{base64.b64encode(MP4).decode()}"
    extend = request("google/veo3-1-extend-video", 7.0, video_url=mp4_uri, aspect_ratio="auto", resolution="720p")
    await veo.submit(extend, spec("google/veo3-1-extend-video", "veo-3.1-generate-preview"), reference="e")
    body = orjson.loads(transport.requests[1].body)
    assert body["instances"][0]["video"] == {"encodedVideo": base64.b64encode(MP4).decode(), "encoding": "video/mp4"}
    assert body["parameters"] == {"resolution": "720p"}  # an extension's length and ratio are the source's


async def test_veo2_options_go_by_their_gemini_names(make: Make) -> None:
    veo, transport = await make(operations())
    asked = request(duration=5, negative_prompt="blurry", enhance_prompt=False, aspect_ratio="16:9")
    veo.check_job(asked, VEO2)
    await veo.submit(asked, VEO2, reference="v")
    assert orjson.loads(transport.requests[0].body)["parameters"] == {
        "aspectRatio": "16:9",
        "durationSeconds": 5,
        "negativePrompt": "blurry",
        "enhancePrompt": False,
    }


async def test_a_failed_or_filtered_operation_is_an_error_with_google_s_words(make: Make) -> None:
    veo, _ = await make(operations("veo_operation_error", "veo_operation_filtered"))
    failed = await veo.poll(Submitted(upstream_id=OPERATION), VEO2)
    filtered = await veo.poll(Submitted(upstream_id=OPERATION), VEO2)
    assert failed.status is filtered.status is JobStatus.ERROR
    assert "The input image is not supported by this model." in failed.message
    assert "safety filters" in filtered.message
    assert "You have not been charged" in filtered.message


async def test_an_operation_google_no_longer_knows_is_lost(make: Make) -> None:
    missing = {"error": {"code": 404, "message": "Operation not found", "status": "NOT_FOUND"}}
    veo, _ = await make(lambda req: MockResponse.json(missing, status=404))
    progress = await veo.poll(Submitted(upstream_id=OPERATION), VEO2)
    assert progress.status is JobStatus.ERROR
    assert "lost" in progress.message


async def test_answers_that_say_nothing_usable(make: Make) -> None:
    veo, _ = await make(lambda req: MockResponse.json({"done": True} if req.method == "GET" else {"metadata": {}}))
    with pytest.raises(UpstreamError, match="without an operation name"):
        await veo.submit(request(), VEO2, reference="x")
    empty = await veo.poll(Submitted(upstream_id=OPERATION), VEO2)
    assert empty.status is JobStatus.ERROR
    assert "no video" in empty.message
    veo, _ = await make(lambda req: MockResponse(503, {}, b'{"error": {"code": 503, "status": "UNAVAILABLE"}}'))
    with pytest.raises(Overloaded):  # transient: raised, for the poller to ask again later
        await veo.poll(Submitted(upstream_id=OPERATION), VEO2)


async def test_what_the_gemini_api_cannot_take_is_refused_before_anything_is_sent(make: Make) -> None:
    veo, transport = await make(operations())
    veo3 = spec("google/veo3", "veo-3.0-generate-001")
    with pytest.raises(UnsupportedParameter) as caught:
        veo.check_job(request("google/veo3", seed=42), veo3)
    assert caught.value.param == "seed"
    with pytest.raises(InvalidRequest, match="generate_audio cannot be False"):
        veo.check_job(request("google/veo3", generate_audio=False), veo3)
    with pytest.raises(InvalidRequest, match="auto_fix cannot be True"):
        veo.check_job(request("google/veo3", auto_fix=True), veo3)
    with pytest.raises(InvalidRequest, match="image_url cannot be used"):
        veo.check_job(request(image_url="http://127.0.0.1/private.png"), VEO2)
    with pytest.raises(InvalidRequest, match="at most 3 reference images"):
        veo.check_job(request(image_urls=[PNG_URI] * 4), VEO31_I2V)
    veo.check_job(request("google/veo3", provider="google", auto_fix=False), veo3)  # the service's, inert
    assert transport.requests == []
