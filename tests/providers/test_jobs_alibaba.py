"""Wan and HappyHorse video on Alibaba's DashScope native API through ``MockTransport``: the
video-synthesis task bodies of each family (text-, image- and reference-to-video, HappyHorse's
four modes), a task polled pending → running → succeeded, a failed task, one DashScope no longer
knows (404 or ``UNKNOWN``), and answers that say nothing usable. Recorded payloads:
``fixtures/alibaba/task_created.json`` and ``video_task_*.json`` (the README gives their
sources)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from tests.providers.media_upstream import media_spec
from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.dashscope.video import DashScopeVideo
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

COMPATIBLE = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
ORIGIN = "https://dashscope-intl.aliyuncs.com"
TASK = "0385dc79-5ff8-4d82-bcb6-xxxxxx"
PROMPT = "A kitten running in the moonlight"


def spec(upstream: str) -> ModelSpec:
    return media_spec("alibaba", f"alibaba/{upstream}", upstream, "video")


def request(variant: str = "1080p:audio", seconds: float = 10.0, **options: object) -> GenerationRequest:
    return GenerationRequest("m", JobKind.VIDEO, PROMPT, options, seconds, variant)


def tasks(*polls: str) -> Callable[[Request], MockResponse]:
    left = list(polls)

    def handler(req: Request) -> MockResponse:
        if req.method == "POST":
            return MockResponse.json(fixture("alibaba/task_created.json"))
        name = left.pop(0)
        return MockResponse.json(fixture("alibaba/task_created.json" if name == "pending" else f"alibaba/{name}.json"))

    return handler


async def make(handler: Callable[[Request], MockResponse]) -> tuple[DashScopeVideo, MockTransport]:
    transport = MockTransport(handler)
    wan = DashScopeVideo(provider_config("alibaba", COMPATIBLE), transport=transport)
    await wan.start()
    return wan, transport


async def test_a_text_to_video_task_is_created_and_polled_until_its_video_url() -> None:
    wan, transport = await make(tasks("pending", "video_task_running", "video_task_succeeded"))
    model = spec("wan2.6-t2v")
    asked = request(
        aspect_ratio="4:3",
        negative_prompt="low resolution",
        seed=12345,
        enhance_prompt=True,
        generate_audio=False,
        shot_type="multi",
    )
    wan.check_job(asked, model)
    submitted = await wan.submit(asked, model, reference="job_1")
    assert submitted == Submitted(upstream_id=TASK)

    create = transport.requests[0]
    assert (create.method, create.url) == ("POST", f"{ORIGIN}/api/v1/services/aigc/video-generation/video-synthesis")
    assert create.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert create.headers["X-DashScope-Async"] == "enable"
    assert orjson.loads(create.body) == {
        "model": "wan2.6-t2v",
        "input": {"prompt": PROMPT, "negative_prompt": "low resolution"},
        "parameters": {
            "watermark": False,
            "duration": 10,
            "prompt_extend": True,
            "audio": False,
            "seed": 12345,
            "shot_type": "multi",
            "size": "1632*1248",
        },
    }

    states = [await wan.poll(submitted, model) for _ in range(3)]
    assert [s.status for s in states] == [JobStatus.QUEUED, JobStatus.GENERATING, JobStatus.COMPLETED]
    done = states[-1]
    url = "https://dashscope-result-wlcb.oss-cn-wulanchabu.aliyuncs.com/1d/xxx.mp4?Expires=xxxxxx"
    assert done.files == (GeneratedFile(field="video", url=url),)
    assert done.duration_s == 5.0
    assert done.details["orig_prompt"] == "A cat running on the grass"
    assert [(r.method, r.url) for r in transport.requests[1:]] == [("GET", f"{ORIGIN}/api/v1/tasks/{TASK}")] * 3
    assert all("X-DashScope-Async" not in r.headers for r in transport.requests[1:])


async def test_wan_2_1_makes_five_seconds_and_an_image_to_video_takes_its_image_and_resolution() -> None:
    wan, transport = await make(tasks())
    await wan.submit(request("480p:silent", 5.0, aspect_ratio="9:16"), spec("wan2.1-t2v-turbo"), reference="a")
    assert orjson.loads(transport.requests[0].body)["parameters"] == {"watermark": False, "size": "480*832"}

    i2v = request("720p:audio", 5.0, image_url="https://example.com/cat.png", audio_url="https://example.com/a.mp3")
    await wan.submit(i2v, spec("wan2.6-i2v-flash"), reference="b")
    assert orjson.loads(transport.requests[1].body) == {
        "model": "wan2.6-i2v-flash",
        "input": {"prompt": PROMPT, "audio_url": "https://example.com/a.mp3", "img_url": "https://example.com/cat.png"},
        "parameters": {"watermark": False, "duration": 5, "resolution": "720P"},
    }
    r2v = request("1080p:audio", 5.0, video_urls=["https://example.com/ref.mp4"])
    await wan.submit(r2v, spec("wan2.6-r2v"), reference="c")
    body = orjson.loads(transport.requests[2].body)
    assert body["input"]["reference_video_urls"] == ["https://example.com/ref.mp4"]
    assert body["parameters"]["size"] == "1920*1080"


@pytest.mark.parametrize(
    ("options", "model", "media", "parameters"),
    [
        ({}, "happyhorse-1.0-t2v", None, {"ratio": "16:9", "duration": 5}),
        (
            {"image_url": "https://example.com/f.png"},
            "happyhorse-1.0-i2v",
            [{"type": "first_frame", "url": "https://example.com/f.png"}],
            {"duration": 5},
        ),
        (
            {"reference_image_urls": ["https://example.com/1.png"], "aspect_ratio": "1:1"},
            "happyhorse-1.0-r2v",
            [{"type": "reference_image", "url": "https://example.com/1.png"}],
            {"ratio": "1:1", "duration": 5},
        ),
        (
            {"video_url": "https://example.com/v.mp4", "reference_image_urls": ["https://example.com/1.png"]},
            "happyhorse-1.0-video-edit",
            [{"type": "video", "url": "https://example.com/v.mp4"}, {"type": "reference_image", "url": "https://example.com/1.png"}],
            {},
        ),
    ],
)  # fmt: skip
async def test_happyhorse_picks_its_model_by_the_inputs(
    options: dict[str, object], model: str, media: list[dict[str, str]] | None, parameters: dict[str, object]
) -> None:
    wan, transport = await make(tasks())
    asked = request("720p:audio", 5.0, **options)
    wan.check_job(asked, spec("happyhorse-1.0"))
    await wan.submit(asked, spec("happyhorse-1.0"), reference="h")
    body = orjson.loads(transport.requests[0].body)
    assert body["model"] == model
    assert body["input"] == ({"prompt": PROMPT, "media": media} if media else {"prompt": PROMPT})
    assert body["parameters"] == {"resolution": "720P", "watermark": False, **parameters}


async def test_a_failed_task_is_an_error_with_dashscope_s_code() -> None:
    wan, _ = await make(tasks("video_task_failed"))
    progress = await wan.poll(Submitted(upstream_id=TASK), spec("wan2.6-t2v"))
    assert progress.status is JobStatus.ERROR
    assert "The size is not match the allowed size" in progress.message
    assert "(InvalidParameter)" in progress.message


async def test_a_task_dashscope_no_longer_knows_is_lost() -> None:
    wan, _ = await make(tasks("video_task_unknown"))
    unknown = await wan.poll(Submitted(upstream_id=TASK), spec("wan2.6-t2v"))
    missing = {"code": "NotFound", "message": "task not found", "request_id": "x"}
    wan, _ = await make(lambda req: MockResponse.json(missing, status=404))
    gone = await wan.poll(Submitted(upstream_id=TASK), spec("wan2.6-t2v"))
    assert unknown.status is gone.status is JobStatus.ERROR
    assert "lost" in unknown.message
    assert "lost" in gone.message


async def test_answers_that_say_nothing_usable() -> None:
    wan, _ = await make(lambda req: MockResponse.json({"request_id": "x", "output": {"task_status": "WEIRD"}}))
    with pytest.raises(UpstreamError, match="without a task_id"):
        await wan.submit(request(), spec("wan2.6-t2v"), reference="x")
    with pytest.raises(UpstreamError, match="does not document: 'WEIRD'"):
        await wan.poll(Submitted(upstream_id=TASK), spec("wan2.6-t2v"))
    wan, _ = await make(lambda req: MockResponse.json({"output": {"task_id": TASK, "task_status": "SUCCEEDED"}}))
    empty = await wan.poll(Submitted(upstream_id=TASK), spec("wan2.6-t2v"))
    assert empty.status is JobStatus.ERROR
    assert "no video_url" in empty.message


async def test_what_dashscope_cannot_make_is_refused_before_anything_is_sent() -> None:
    wan, transport = await make(tasks())
    with pytest.raises(InvalidRequest, match="follows the image's aspect ratio"):
        wan.check_job(request(image_url="https://example.com/c.png", aspect_ratio="1:1"), spec("wan2.5-i2v-preview"))
    with pytest.raises(InvalidRequest, match="no 480P video at 4:3"):
        wan.check_job(request("480p:silent", aspect_ratio="4:3"), spec("wan2.2-t2v-plus"))
    with pytest.raises(UnsupportedParameter) as caught:
        wan.check_job(request(image_url="https://example.com/c.png"), spec("wan2.6-t2v"))
    assert caught.value.param == "image_url"
    happyhorse = spec("happyhorse-1.0")
    with pytest.raises(InvalidRequest, match="cannot be combined"):
        wan.check_job(request(image_url="https://a/1.png", video_url="https://a/v.mp4"), happyhorse)
    with pytest.raises(InvalidRequest, match="follows the source video"):
        wan.check_job(request(video_url="https://a/v.mp4", duration=5), happyhorse)
    with pytest.raises(InvalidRequest, match="audio_setting is for HappyHorse video-edit"):
        wan.check_job(request(audio_setting="origin"), happyhorse)
    assert transport.requests == []
