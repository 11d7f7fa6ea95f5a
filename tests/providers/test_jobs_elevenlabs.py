"""ElevenLabs' Eleven Music as an inline job runner, through ``MockTransport``: the exact
``POST /v1/music`` it sends, the job that ends with the call (its song as bytes), defaults,
refusals, an empty answer and the poll of a job whose outcome was lost. Recorded payloads:
``fixtures/elevenlabs/`` (its README)."""

from __future__ import annotations

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.elevenlabs import ElevenLabsMusic
from unigate.providers.transport.mock import MockResponse, MockTransport

MP3 = fixture("hume/generation_audio.mp3")


def spec(provider: str, upstream: str) -> ModelSpec:
    return ModelSpec(id=upstream, provider=provider, upstream_model=upstream, price=Price(0, 0), type="music")


def audio(**headers: str) -> MockResponse:
    return MockResponse(200, {"Content-Type": "audio/mpeg", **headers}, MP3)


async def eleven(reply: MockResponse) -> tuple[ElevenLabsMusic, MockTransport]:
    transport = MockTransport(lambda request: reply)
    music = ElevenLabsMusic(provider_config("elevenlabs", "https://api.elevenlabs.io"), transport=transport)
    await music.start()
    return music, transport


async def test_eleven_music_composes_in_one_call_and_the_job_ends_with_it() -> None:
    music, transport = await eleven(audio(**{"song-id": "song_5a1b"}))
    request = GenerationRequest("elevenlabs/eleven_music", JobKind.MUSIC, "lo-fi beat", {"music_length_ms": 30000})
    assert music.inline
    job = await music.submit(request, spec("elevenlabs", "music_v1"), reference="job_1")

    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("POST", "https://api.elevenlabs.io/v1/music?output_format=mp3_44100_128")
    assert sent.headers["xi-api-key"] == UPSTREAM_KEY
    assert orjson.loads(sent.body) == {"prompt": "lo-fi beat", "music_length_ms": 30000, "model_id": "music_v1"}
    assert job.upstream_id == "song_5a1b"
    assert job.outcome is not None
    assert job.outcome.status is JobStatus.COMPLETED
    assert job.outcome.duration_s == 30.0
    blob = Blob(MP3, "audio/mpeg", "music.mp3")
    assert job.outcome.files == (
        GeneratedFile("audio_file", blob=blob, content_type="audio/mpeg", filename="music.mp3"),
    )


async def test_eleven_music_defaults_refusals_and_the_lost_poll() -> None:
    music, transport = await eleven(audio())
    job = await music.submit(
        GenerationRequest("m", JobKind.MUSIC, "jazz"), spec("elevenlabs", "music_v1"), reference="job_2"
    )
    assert orjson.loads(transport.requests[0].body)["music_length_ms"] == 10000
    assert job.upstream_id == "job_2"  # no song-id header: the gateway's reference

    with pytest.raises(UnsupportedParameter):
        music.check_job(GenerationRequest("m", JobKind.MUSIC, "jazz", {"lyrics": "la"}), spec("elevenlabs", "music_v1"))

    music, _ = await eleven(MockResponse.json(fixture("elevenlabs/error_validation.json"), status=422))
    with pytest.raises(InvalidRequest, match="Field required"):
        await music.submit(GenerationRequest("m", JobKind.MUSIC, ""), spec("elevenlabs", "music_v1"), reference="j")

    music, _ = await eleven(MockResponse(200, {"Content-Type": "audio/mpeg"}, b""))
    with pytest.raises(UpstreamError, match="no audio"):
        await music.submit(GenerationRequest("m", JobKind.MUSIC, "jazz"), spec("elevenlabs", "music_v1"), reference="j")

    lost = await music.poll(Submitted("song_5a1b"), spec("elevenlabs", "music_v1"))
    assert (lost.status, lost.message) == (JobStatus.ERROR, "The elevenlabs composition song_5a1b was lost.")
