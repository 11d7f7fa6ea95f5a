"""Seedance on BytePlus ModelArk through ``MockTransport``: the generation task bodies (the
prompt and inputs in ``content`` with their roles, the settings as top-level fields), a task
polled queued → running → succeeded, a failed task, one ModelArk no longer knows (lost), and
answers that say nothing usable. Recorded payloads: ``fixtures/bytedance/seedance_task_*.json``
(the README gives their sources)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from tests.providers.media_upstream import media_spec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.seedance_video import SeedanceVideo
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://ark.ap-southeast.bytepluses.com/api/v3"
TASK = "cgt-20260405024433-sbj8r"
PROMPT = "A kitten yawns at the camera"
PRO_I2V = media_spec("bytedance", "bytedance/seedance-1-0-pro-i2v", "seedance-1-0-pro-250528", "video")
SEEDANCE_2 = media_spec("bytedance", "bytedance/seedance-2-0", "dreamina-seedance-2-0-260128", "video")


def request(variant: str = "1080p:silent", seconds: float = 5.0, **options: object) -> GenerationRequest:
    return GenerationRequest("m", JobKind.VIDEO, PROMPT, options, seconds, variant)


def tasks(*polls: str) -> Callable[[Request], MockResponse]:
    left = list(polls)

    def handler(req: Request) -> MockResponse:
        if req.method == "POST":
            return MockResponse.json(fixture("bytedance/seedance_task_created.json"))
        return MockResponse.json(fixture(f"bytedance/seedance_task_{left.pop(0)}.json"))

    return handler


async def make(handler: Callable[[Request], MockResponse]) -> tuple[SeedanceVideo, MockTransport]:
    transport = MockTransport(handler)
    seedance = SeedanceVideo(provider_config("bytedance", BASE), transport=transport)
    await seedance.start()
    return seedance, transport


async def test_a_first_and_last_frame_task_is_created_and_polled_until_its_video_url() -> None:
    seedance, transport = await make(tasks("queued", "running", "succeeded"))
    asked = request(
        image_url="https://example.com/first.png",
        last_image_url="https://example.com/last.png",
        camerafixed=False,
        seed=10,
    )
    seedance.check_job(asked, PRO_I2V)
    submitted = await seedance.submit(asked, PRO_I2V, reference="job_1")
    assert submitted == Submitted(upstream_id=TASK)

    create = transport.requests[0]
    assert (create.method, create.url) == ("POST", f"{BASE}/contents/generations/tasks")
    assert create.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert orjson.loads(create.body) == {
        "model": "seedance-1-0-pro-250528",
        "content": [
            {"type": "text", "text": PROMPT},
            {"type": "image_url", "image_url": {"url": "https://example.com/first.png"}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": "https://example.com/last.png"}, "role": "last_frame"},
        ],
        "resolution": "1080p",
        "duration": 5,
        "seed": 10,
        "camera_fixed": False,
        "watermark": False,
    }

    states = [await seedance.poll(submitted, PRO_I2V) for _ in range(3)]
    assert [s.status for s in states] == [JobStatus.QUEUED, JobStatus.GENERATING, JobStatus.COMPLETED]
    done = states[-1]
    (file,) = done.files
    assert file == GeneratedFile(field="video", url=fixture_url())
    assert done.duration_s == 5.0
    assert done.details == {"seed": 10, "resolution": "1080p", "ratio": "16:9", "framespersecond": 24}
    polls = [(r.method, r.url) for r in transport.requests[1:]]
    assert polls == [("GET", f"{BASE}/contents/generations/tasks/{TASK}")] * 3


def fixture_url() -> str:
    return str(orjson.loads(fixture("bytedance/seedance_task_succeeded.json"))["content"]["video_url"])


async def test_seedance_2_takes_references_audio_and_its_settings_as_top_level_fields() -> None:
    seedance, transport = await make(tasks())
    asked = request(
        "720p:audio",
        8.0,
        image_urls=["https://example.com/r1.png"],
        video_urls=["https://example.com/v1.mp4"],
        audio_urls=["https://example.com/a1.mp3"],
        aspect_ratio="21:9",
        generate_audio=True,
        provider="bytedance",
    )
    seedance.check_job(asked, SEEDANCE_2)
    await seedance.submit(asked, SEEDANCE_2, reference="job_2")
    assert orjson.loads(transport.requests[0].body) == {
        "model": "dreamina-seedance-2-0-260128",
        "content": [
            {"type": "text", "text": PROMPT},
            {"type": "image_url", "image_url": {"url": "https://example.com/r1.png"}, "role": "reference_image"},
            {"type": "video_url", "video_url": {"url": "https://example.com/v1.mp4"}, "role": "reference_video"},
            {"type": "audio_url", "audio_url": {"url": "https://example.com/a1.mp3"}, "role": "reference_audio"},
        ],
        "ratio": "21:9",
        "resolution": "720p",
        "duration": 8,
        "watermark": False,
        "generate_audio": True,
    }


async def test_a_failed_task_is_an_error_with_modelark_s_code() -> None:
    seedance, _ = await make(tasks("failed"))
    progress = await seedance.poll(Submitted(upstream_id=TASK), PRO_I2V)
    assert progress.status is JobStatus.ERROR
    assert "output video may contain sensitive information" in progress.message
    assert "(OutputVideoSensitiveContentDetected)" in progress.message


async def test_a_task_modelark_no_longer_knows_is_lost() -> None:
    missing = {"error": {"code": "ResourceNotFound", "message": "The specified task is not found.", "type": "NotFound"}}
    seedance, _ = await make(lambda req: MockResponse.json(missing, status=404))
    progress = await seedance.poll(Submitted(upstream_id=TASK), PRO_I2V)
    assert progress.status is JobStatus.ERROR
    assert "lost" in progress.message


async def test_answers_that_say_nothing_usable() -> None:
    seedance, _ = await make(lambda req: MockResponse.json({"status": "paused"}))
    with pytest.raises(UpstreamError, match="without an id"):
        await seedance.submit(request(), PRO_I2V, reference="x")
    with pytest.raises(UpstreamError, match="does not document: 'paused'"):
        await seedance.poll(Submitted(upstream_id=TASK), PRO_I2V)
    seedance, _ = await make(lambda req: MockResponse.json({"id": TASK, "status": "succeeded", "content": {}}))
    empty = await seedance.poll(Submitted(upstream_id=TASK), PRO_I2V)
    assert empty.status is JobStatus.ERROR
    assert "no video_url" in empty.message


async def test_what_modelark_cannot_take_is_refused_before_anything_is_sent() -> None:
    seedance, transport = await make(tasks())
    lite_i2v = media_spec("bytedance", "bytedance/seedance-1-0-lite-i2v", "seedance-1-0-lite-i2v-250428", "video")
    with pytest.raises(InvalidRequest, match="needs an image_url"):
        seedance.check_job(request(), lite_i2v)
    with pytest.raises(InvalidRequest, match="needs an image_url"):
        seedance.check_job(request(last_image_url="https://a/l.png"), SEEDANCE_2)
    with pytest.raises(InvalidRequest, match="cannot be combined"):
        seedance.check_job(request(image_url="https://a/f.png", image_urls=["https://a/r.png"]), SEEDANCE_2)
    with pytest.raises(InvalidRequest, match="Reference audio needs"):
        seedance.check_job(request(audio_url="https://a/a.mp3"), SEEDANCE_2)
    with pytest.raises(UnsupportedParameter) as caught:
        seedance.check_job(request(negative_prompt="blur"), SEEDANCE_2)
    assert caught.value.param == "negative_prompt"
    assert transport.requests == []
