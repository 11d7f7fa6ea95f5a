"""Stability AI's Stable Audio 2 as an inline job runner, through ``MockTransport``: the exact
multipart form it sends, the job that ends with the call (its audio as bytes), the service's
defaults, what it refuses before sending, refusals and moderation (a 403 that is not about the
key), a filtered output and a malformed answer. Recorded payloads: ``fixtures/stability/``."""

from __future__ import annotations

import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GenerationRequest, JobKind, JobStatus
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.stability import StabilityAudio
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

MP3 = fixture("hume/generation_audio.mp3")


def spec(provider: str, upstream: str) -> ModelSpec:
    return ModelSpec(id=upstream, provider=provider, upstream_model=upstream, price=Price(0, 0), type="music")


def audio(**headers: str) -> MockResponse:
    return MockResponse(200, {"Content-Type": "audio/mpeg", **headers}, MP3)


async def stability(reply: MockResponse) -> tuple[StabilityAudio, MockTransport]:
    transport = MockTransport(lambda request: reply)
    runner = StabilityAudio(provider_config("stability", "https://api.stability.ai"), transport=transport)
    await runner.start()
    return runner, transport


def form(request: Request) -> dict[str, str]:
    boundary = request.headers["Content-Type"].split("boundary=")[1]
    fields = {}
    for part in request.body.split(f"--{boundary}".encode())[1:-1]:
        head, _, value = part.partition(b"\r\n\r\n")
        fields[head.split(b'name="')[1].split(b'"')[0].decode()] = value.removesuffix(b"\r\n").decode()
    return fields


async def test_stable_audio_sends_its_form_and_answers_the_audio() -> None:
    runner, transport = await stability(audio(seed="4029", **{"finish-reason": "SUCCESS"}))
    request = GenerationRequest(
        "stable-audio", JobKind.MUSIC, "rain on a tin roof", {"seconds_total": 20, "steps": 8, "seed": 7}
    )
    job = await runner.submit(request, spec("stability", "stable-audio-2.5"), reference="job_3")

    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("POST", "https://api.stability.ai/v2beta/audio/stable-audio-2/text-to-audio")
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.headers["Accept"] == "audio/*"
    assert form(sent) == {
        "prompt": "rain on a tin roof",
        "duration": "20",
        "model": "stable-audio-2.5",
        "output_format": "mp3",
        "steps": "8",
        "seed": "7",
    }
    assert job.upstream_id == "job_3"
    assert job.outcome is not None
    assert (job.outcome.status, job.outcome.duration_s, job.outcome.details) == (
        JobStatus.COMPLETED,
        20.0,
        {"seed": 4029},
    )
    assert job.outcome.files[0].blob == Blob(MP3, "audio/mpeg", "audio.mp3")


async def test_stable_audio_defaults_and_what_it_refuses() -> None:
    runner, transport = await stability(audio())
    await runner.submit(
        GenerationRequest("stable-audio", JobKind.MUSIC, "birds"), spec("stability", "stable-audio-2.5"), reference="j"
    )
    assert form(transport.requests[0])["duration"] == "30"  # the service's default, not Stability's 190

    model = spec("stability", "stable-audio-2.5")
    with pytest.raises(UnsupportedParameter) as start:
        runner.check_job(GenerationRequest("stable-audio", JobKind.MUSIC, "x", {"seconds_start": 5}), model)
    assert start.value.param == "seconds_start"
    with pytest.raises(InvalidRequest) as steps:
        runner.check_job(GenerationRequest("stable-audio", JobKind.MUSIC, "x", {"steps": 100}), model)
    assert steps.value.param == "steps"

    runner, _ = await stability(MockResponse.json(fixture("stability/error_bad_request.json"), status=400))
    with pytest.raises(InvalidRequest, match="duration: must be less than or equal to 190"):
        await runner.submit(GenerationRequest("stable-audio", JobKind.MUSIC, "x"), model, reference="j")

    runner, _ = await stability(MockResponse.json(fixture("stability/error_content_moderation.json"), status=403))
    with pytest.raises(InvalidRequest, match="flagged by our content moderation"):  # not a wrong key
        await runner.submit(GenerationRequest("stable-audio", JobKind.MUSIC, "x"), model, reference="j")


async def test_stable_audio_filtered_output_and_malformed_answers() -> None:
    model = spec("stability", "stable-audio-2.5")
    runner, _ = await stability(audio(**{"finish-reason": "CONTENT_FILTERED"}))
    job = await runner.submit(GenerationRequest("stable-audio", JobKind.MUSIC, "x"), model, reference="j")
    assert job.outcome is not None
    assert job.outcome.status is JobStatus.ERROR
    assert "content filter" in job.outcome.message

    runner, _ = await stability(MockResponse.json({"audio": "base64..."}))
    with pytest.raises(UpstreamError, match="no audio"):
        await runner.submit(GenerationRequest("stable-audio", JobKind.MUSIC, "x"), model, reference="j")
