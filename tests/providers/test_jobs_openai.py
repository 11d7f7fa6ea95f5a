"""Sora through OpenAI's Videos API and ``MockTransport``: the create body (JSON, the size made of
the aspect ratio and resolution, an input reference), a video polled queued → in progress →
completed and its MP4 read with our key, a failed video, one OpenAI no longer knows (lost), and
answers that say nothing usable. Recorded payloads: ``fixtures/openai_media/video_*.json`` (the
README gives their sources)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from tests.providers.emulators import fixture
from tests.providers.media_upstream import BEARER, media_spec, open_adapter
from unigate.core.jobs import GenerationRequest, JobKind, JobStatus, Submitted
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.openai_media.video import OpenAIVideo
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.openai.com/v1"
VIDEO = "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
PRO_T2V = media_spec("openai", "sora-2-pro-t2v", "sora-2-pro", "video")
SORA_I2V = media_spec("openai", "sora-2-i2v", "sora-2", "video")


def request(model: str = "sora-2-pro-t2v", **options: object) -> GenerationRequest:
    return GenerationRequest(
        model=model,
        kind=JobKind.VIDEO,
        prompt="Wide tracking shot of a teal coupe driving through a desert highway.",
        options=options,
        duration_s=4.0,
        variant="1080p:audio",
    )


def answers(*names: str, content: MockResponse | None = None) -> Callable[[Request], MockResponse]:
    """The create answer, then each poll's recorded video object in turn; the content download."""
    left = list(names)

    def handler(req: Request) -> MockResponse:
        if req.method == "POST":
            return MockResponse.json(fixture("openai_media/video_queued.json"))
        if req.url.endswith("/content"):
            return content or MockResponse(200, {"Content-Type": "video/mp4"}, MP4)
        return MockResponse.json(fixture(f"openai_media/{left.pop(0)}.json"))

    return handler


async def make(handler: Callable[[Request], MockResponse]) -> tuple[OpenAIVideo, MockTransport]:
    return await open_adapter(OpenAIVideo, "openai", BASE, handler)


async def test_a_text_to_video_is_created_with_the_service_s_size_and_polled_until_its_mp4_is_read() -> None:
    sora, transport = await make(answers("video_queued", "video_in_progress", "video_completed"))
    asked = request(aspect_ratio="9:16", duration=8)
    sora.check_job(asked, PRO_T2V)
    submitted = await sora.submit(asked, PRO_T2V, reference="job_1")
    assert submitted == Submitted(upstream_id=VIDEO)

    create = transport.requests[0]
    assert (create.method, create.url) == ("POST", f"{BASE}/videos")
    assert create.headers["Authorization"] == BEARER
    assert orjson.loads(create.body) == {
        "model": "sora-2-pro",
        "prompt": asked.prompt,
        "seconds": "8",
        "size": "1080x1920",
    }

    queued = await sora.poll(submitted, PRO_T2V)
    running = await sora.poll(submitted, PRO_T2V)
    done = await sora.poll(submitted, PRO_T2V)
    assert (queued.status, queued.details) == (JobStatus.QUEUED, {"progress": 0})
    assert (running.status, running.details) == (JobStatus.GENERATING, {"progress": 33})
    assert done.status is JobStatus.COMPLETED
    assert done.duration_s == 8.0
    (file,) = done.files
    assert (file.field, file.url, file.content_type) == ("video", None, "video/mp4")
    assert file.blob is not None
    assert file.blob.data == MP4
    polls = [(r.method, r.url) for r in transport.requests[1:]]
    assert polls == [("GET", f"{BASE}/videos/{VIDEO}")] * 3 + [("GET", f"{BASE}/videos/{VIDEO}/content")]
    assert transport.requests[-1].headers["Authorization"] == BEARER  # the content needs our key


async def test_an_image_to_video_sends_its_image_as_an_input_reference_at_720p_16_9_by_default() -> None:
    sora, transport = await make(answers())
    asked = request("sora-2-i2v", image_url="https://example.com/first.png")
    asked = GenerationRequest(asked.model, asked.kind, asked.prompt, asked.options, 4.0, "720p:audio")
    await sora.submit(asked, SORA_I2V, reference="job_2")
    assert orjson.loads(transport.requests[0].body) == {
        "model": "sora-2",
        "prompt": asked.prompt,
        "seconds": "4",
        "size": "1280x720",
        "input_reference": {"image_url": "https://example.com/first.png"},
    }


async def test_a_failed_video_is_an_error_with_openai_s_message() -> None:
    sora, _ = await make(answers("video_failed"))
    progress = await sora.poll(Submitted(upstream_id=VIDEO), PRO_T2V)
    assert progress.status is JobStatus.ERROR
    assert "Your request was blocked by our moderation system. (moderation_blocked)" in progress.message


async def test_a_video_openai_no_longer_knows_is_lost_not_an_exception() -> None:
    missing = {"error": {"message": "Video not found", "type": "invalid_request_error", "code": None}}
    sora, _ = await make(lambda req: MockResponse.json(missing, status=404))
    progress = await sora.poll(Submitted(upstream_id=VIDEO), PRO_T2V)
    assert progress.status is JobStatus.ERROR
    assert "lost" in progress.message


async def test_answers_that_say_nothing_usable_raise_for_a_later_poll() -> None:
    sora, _ = await make(lambda req: MockResponse.json({"object": "video"}))
    with pytest.raises(UpstreamError, match="without an id"):
        await sora.submit(request(), PRO_T2V, reference="job_3")
    with pytest.raises(UpstreamError, match="does not document: None"):
        await sora.poll(Submitted(upstream_id=VIDEO), PRO_T2V)
    sora, _ = await make(answers("video_completed", content=MockResponse(200, {"Content-Type": "video/mp4"}, b"")))
    with pytest.raises(UpstreamError, match="empty"):
        await sora.poll(Submitted(upstream_id=VIDEO), PRO_T2V)
    sora, _ = await make(lambda req: MockResponse(502, {}, b"upstream connect error"))
    with pytest.raises(UpstreamError):
        await sora.poll(Submitted(upstream_id=VIDEO), PRO_T2V)


async def test_what_sora_cannot_make_is_refused_before_anything_is_sent() -> None:
    sora, transport = await make(answers())
    sora_t2v = media_spec("openai", "sora-2-t2v", "sora-2", "video")
    with pytest.raises(InvalidRequest, match="1080p is Sora 2 Pro's"):
        sora.check_job(request("sora-2-t2v", resolution="1080p"), sora_t2v)
    with pytest.raises(InvalidRequest, match="needs an image_url"):
        sora.check_job(request("sora-2-i2v"), SORA_I2V)
    with pytest.raises(UnsupportedParameter) as caught:
        sora.check_job(request(seed=7), PRO_T2V)
    assert caught.value.param == "seed"
    with pytest.raises(InvalidRequest, match="needs a prompt"):
        sora.check_job(GenerationRequest(model="sora-2-pro-t2v", kind=JobKind.VIDEO), PRO_T2V)
    assert transport.requests == []
    assert (sora.inline, sora.timing.first_s) == (False, 20.0)
