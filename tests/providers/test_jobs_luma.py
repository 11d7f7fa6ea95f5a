"""Luma's Dream Machine generations through ``MockTransport``: the body of a Ray 2 generation,
polled from queued to completed; a failed one, a lost one, malformed answers and a refusal.
Recorded payloads: ``fixtures/luma/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture_json
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.luma import LumaVideo
from unigate.providers.registry import load_provider_configs
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.lumalabs.ai/dream-machine/v1"
GENERATION = "123e4567-e89b-12d3-a456-426614174000"
VIDEO = fixture_json("luma/generation_completed.json")["assets"]["video"]


def spec(model: str = "ray-2") -> ModelSpec:
    return ModelSpec(id=f"luma/{model}", provider="luma", upstream_model=model, price=Price(0, 0), type="video")


def video(**options: Any) -> GenerationRequest:
    return GenerationRequest(model="luma/ray-2", kind=JobKind.VIDEO, prompt="A tiger walking in snow", options=options)


def generations(*polls: str) -> Callable[[Request], MockResponse]:
    left = list(polls)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture_json("luma/generation_queued.json"), status=201)
        name = left.pop(0) if len(left) > 1 else left[0]
        return MockResponse.json(fixture_json(f"luma/{name}.json"))

    return handler


async def runner(handler: Callable[[Request], MockResponse]) -> LumaVideo:
    config = load_provider_configs({"LUMAAI_API_KEY": UPSTREAM_KEY})["luma"]
    adapter = LumaVideo(config, transport=MockTransport(handler))
    await adapter.start()
    return adapter


def sent(adapter: LumaVideo) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return transport.requests


async def test_a_ray_2_generation_is_submitted_and_polled_until_completed() -> None:
    luma = await runner(generations("generation_queued", "generation_dreaming", "generation_completed"))
    keyframes = {"frame0": {"type": "image", "url": "https://e.com/start.jpg"}, "frame1": None}
    request = video(resolution="720p", aspect_ratio="16:9", duration=9, loop=True, keyframes=keyframes)
    submitted = await luma.submit(request, spec(), reference="job-1")
    (post,) = sent(luma)
    assert (post.url, post.headers["Authorization"]) == (f"{BASE}/generations/video", f"Bearer {UPSTREAM_KEY}")
    assert orjson.loads(post.body) == {
        "prompt": "A tiger walking in snow",
        "model": "ray-2",
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "loop": True,
        "duration": "9s",
        "keyframes": {"frame0": {"type": "image", "url": "https://e.com/start.jpg"}},
    }
    assert submitted == Submitted(upstream_id=GENERATION)
    progress = [await luma.poll(submitted, spec()) for _ in range(3)]
    assert [p.status for p in progress] == [JobStatus.QUEUED, JobStatus.GENERATING, JobStatus.COMPLETED]
    assert {r.url for r in sent(luma)[1:]} == {f"{BASE}/generations/{GENERATION}"}
    assert progress[-1].files == (GeneratedFile(field="video", url=VIDEO, content_type="video/mp4"),)


def test_keyframes_must_be_urls_luma_can_fetch() -> None:
    luma = LumaVideo(load_provider_configs({"LUMAAI_API_KEY": "k"})["luma"], transport=MockTransport(generations("x")))
    with pytest.raises(InvalidRequest) as caught:
        luma.check_job(video(keyframes={"frame1": {"type": "image", "url": "data:image/png;base64,AA=="}}), spec())
    assert caught.value.param == "keyframes.frame1"


async def test_a_failed_generation_says_why_and_a_lost_one_says_so() -> None:
    luma = await runner(generations("generation_failed"))
    failed = await luma.poll(Submitted(GENERATION), spec())
    assert failed.status is JobStatus.ERROR
    assert failed.message.endswith("400: prompt not allowed because advanced moderation failed")
    gone = await runner(lambda r: MockResponse.json({"detail": "Generation not found"}, status=404))
    lost = await gone.poll(Submitted(GENERATION), spec())
    assert lost.status is JobStatus.ERROR
    assert f"no longer knows task {GENERATION}" in lost.message


async def test_malformed_answers_raise_and_a_refusal_is_the_client_s_400() -> None:
    odd = await runner(lambda r: MockResponse.json({"id": GENERATION, "state": "sleeping"}))
    with pytest.raises(UpstreamError, match="unknown state"):
        await odd.poll(Submitted(GENERATION), spec())
    no_id = await runner(lambda r: MockResponse.json({"state": "queued"}))
    with pytest.raises(UpstreamError, match="without an id"):
        await no_id.submit(video(), spec(), reference="r")
    bare = await runner(lambda r: MockResponse.json({"id": GENERATION, "state": "completed", "assets": {}}))
    assert (await bare.poll(Submitted(GENERATION), spec())).status is JobStatus.ERROR
    refused = await runner(lambda r: MockResponse.json({"detail": "Invalid resolution for ray-flash-2"}, status=400))
    with pytest.raises(InvalidRequest, match="Invalid resolution"):
        await refused.submit(video(resolution="4k"), spec("ray-flash-2"), reference="r")
