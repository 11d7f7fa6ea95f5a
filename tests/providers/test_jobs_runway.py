"""Runway's tasks through ``MockTransport``: the body and headers of each endpoint (image to
video with a first and last frame, Aleph's video to video, Act-Two), a task polled from pending
to succeeded, a failed one, a lost one, malformed answers and a refused request. Recorded
payloads: ``fixtures/runway/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture_json
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.registry import load_provider_configs
from unigate.providers.runway import VERSION, RunwayVideo
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.dev.runwayml.com"
TASK = "497f6eca-6276-4993-bfeb-53cbbbba6f08"
OUTPUT = fixture_json("runway/task_succeeded.json")["output"][0]


def spec(model: str) -> ModelSpec:
    return ModelSpec(id=model, provider="runway", upstream_model=model, price=Price(0, 0), type="video")


def video(prompt: str | None = "The sea at dawn", **options: Any) -> GenerationRequest:
    return GenerationRequest(model="runway-test", kind=JobKind.VIDEO, prompt=prompt, options=options)


def tasks(*polls: str, status: int = 200) -> Callable[[Request], MockResponse]:
    left = list(polls)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture_json("runway/task_created.json"))
        name = left.pop(0) if len(left) > 1 else left[0]
        return MockResponse.json(fixture_json(f"runway/{name}.json"), status=status)

    return handler


async def runner(handler: Callable[[Request], MockResponse]) -> RunwayVideo:
    config = load_provider_configs({"RUNWAYML_API_SECRET": UPSTREAM_KEY, "RUNWAY_BASE_URL": BASE})["runway"]
    adapter = RunwayVideo(config, transport=MockTransport(handler))
    await adapter.start()
    return adapter


def sent(adapter: RunwayVideo) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return transport.requests


async def test_gen4_turbo_is_submitted_and_polled_from_pending_to_succeeded() -> None:
    runway = await runner(tasks("task_pending", "task_throttled", "task_running", "task_succeeded"))
    request = video(image_url="https://e.com/frame.png", aspect_ratio="4:3", duration=10, seed=7)
    submitted = await runway.submit(request, spec("gen4_turbo"), reference="job-1")
    (post,) = sent(runway)
    assert (post.url, post.headers["Authorization"], post.headers["X-Runway-Version"]) == (
        f"{BASE}/v1/image_to_video",
        f"Bearer {UPSTREAM_KEY}",
        VERSION,
    )
    assert orjson.loads(post.body) == {
        "model": "gen4_turbo",
        "promptImage": "https://e.com/frame.png",
        "ratio": "1104:832",
        "duration": 10,
        "promptText": "The sea at dawn",
        "seed": 7,
    }
    assert submitted == Submitted(upstream_id=TASK)
    progress = [await runway.poll(submitted, spec("gen4_turbo")) for _ in range(4)]
    assert [p.status for p in progress] == [
        JobStatus.QUEUED,
        JobStatus.QUEUED,
        JobStatus.GENERATING,
        JobStatus.COMPLETED,
    ]
    assert {r.url for r in sent(runway)[1:]} == {f"{BASE}/v1/tasks/{TASK}"}
    assert progress[-1].files == (GeneratedFile(field="video", url=OUTPUT, content_type="video/mp4"),)


async def test_each_model_gets_its_endpoint_and_runway_s_field_names() -> None:
    runway = await runner(tasks("task_pending"))
    await runway.submit(
        video(image_url="data:image/png;base64,iVBO", tail_image_url="https://e.com/end.png", aspect_ratio="9:16"),
        spec("gen3a_turbo"),
        reference="r",
    )
    await runway.submit(
        video(
            "Make it snow",
            video_url="https://e.com/in.mp4",
            references=[{"type": "image", "url": "https://e.com/s.png"}],
            frame_size="960:960",
            duration=5,
        ),
        spec("gen4_aleph"),
        reference="r",
    )
    await runway.submit(
        video(
            None,
            character={"type": "image", "url": "https://e.com/c.png"},
            reference={"type": "video", "url": "https://e.com/r.mp4"},
            body_control=True,
            expression_intensity=4,
        ),
        spec("act_two"),
        reference="r",
    )
    bodies = [(r.url.removeprefix(f"{BASE}/v1/"), orjson.loads(r.body)) for r in sent(runway)]
    assert bodies == [
        (
            "image_to_video",
            {
                "model": "gen3a_turbo",
                "promptImage": [
                    {"uri": "data:image/png;base64,iVBO", "position": "first"},
                    {"uri": "https://e.com/end.png", "position": "last"},
                ],
                "ratio": "768:1280",
                "promptText": "The sea at dawn",
            },
        ),
        (
            "video_to_video",
            {
                "model": "gen4_aleph",
                "videoUri": "https://e.com/in.mp4",
                "references": [{"type": "image", "uri": "https://e.com/s.png"}],
                "promptText": "Make it snow",
                "ratio": "960:960",
            },
        ),
        (
            "character_performance",
            {
                "model": "act_two",
                "character": {"type": "image", "uri": "https://e.com/c.png"},
                "reference": {"type": "video", "uri": "https://e.com/r.mp4"},
                "bodyControl": True,
                "expressionIntensity": 4,
            },
        ),
    ]


def test_what_a_model_cannot_make_is_refused_before_anything_is_sent() -> None:
    runway = RunwayVideo(
        load_provider_configs({"RUNWAYML_API_SECRET": "k"})["runway"], transport=MockTransport(tasks("task_pending"))
    )
    cases = [
        (video(image_url="https://e.com/a.png", tail_image_url="https://e.com/b.png"), "gen4_turbo", "tail_image_url"),
        (video(image_url="https://e.com/a.png", aspect_ratio="1:1"), "gen3a_turbo", "aspect_ratio"),
        (video(), "gen4_turbo", "image_url"),
        (video(), "gen4_aleph", "video_url"),
        (video(character={"type": "image"}, reference={"type": "video", "url": "u"}), "act_two", "character"),
    ]
    for request, model, param in cases:
        with pytest.raises(InvalidRequest) as caught:
            runway.check_job(request, spec(model))
        assert caught.value.param == param


async def test_a_failed_task_says_why_and_a_lost_one_says_so() -> None:
    runway = await runner(tasks("task_failed"))
    failed = await runway.poll(Submitted(TASK), spec("gen4_turbo"))
    assert failed.status is JobStatus.ERROR
    assert failed.message == (
        "The runway provider's task failed: An unexpected error occurred. (INTERNAL.BAD_OUTPUT.CODE01)"
    )
    gone = await runner(lambda r: MockResponse.json({"error": "Task not found"}, status=404))
    lost = await gone.poll(Submitted(TASK), spec("gen4_turbo"))
    assert lost.status is JobStatus.ERROR
    assert f"no longer knows task {TASK}" in lost.message


async def test_malformed_answers_raise_and_a_refusal_is_the_client_s_400() -> None:
    odd = await runner(lambda r: MockResponse.json({"id": TASK, "status": "DREAMING"}))
    with pytest.raises(UpstreamError, match="unknown status"):
        await odd.poll(Submitted(TASK), spec("gen4_turbo"))
    no_id = await runner(lambda r: MockResponse.json({}))
    with pytest.raises(UpstreamError, match="without an id"):
        await no_id.submit(video(image_url="https://e.com/a.png"), spec("gen4_turbo"), reference="r")
    empty = await runner(lambda r: MockResponse.json({"id": TASK, "status": "SUCCEEDED", "output": []}))
    progress = await empty.poll(Submitted(TASK), spec("gen4_turbo"))
    assert progress.status is JobStatus.ERROR
    refused = await runner(lambda r: MockResponse.json(fixture_json("runway/error_validation.json"), status=400))
    with pytest.raises(InvalidRequest, match="Validation of body failed: Invalid enum value"):
        await refused.submit(video(image_url="https://e.com/a.png"), spec("gen4_turbo"), reference="r")
