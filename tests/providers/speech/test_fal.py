"""VibeVoice through fal's queue (``FalSpeaker``) and ``MockTransport``: the app input sent, the
queue polled, the result's audio fetched without our key and streamed, refusals before any
request, errors typed. Recorded payloads: ``fixtures/fal/`` (its README: fal's Queue page and
VibeVoice model pages)."""

from __future__ import annotations

import pytest

from tests.providers.emulators import UPSTREAM_KEY, provider_config
from tests.providers.fake_time import FakeTime
from tests.providers.speech.helpers import Replies, collect, fixture, fixture_json, json_body, spec
from unigate.core.media import SpeechRequest
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.fal import FalSpeaker
from unigate.providers.fal.speech import audio_format
from unigate.providers.transport.mock import MockResponse

BASE = "https://queue.fal.run"
REQUEST_ID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
MP3 = fixture("hume/generation_audio.mp3")
HALF = len(MP3) // 2
VIBEVOICE = spec("fal", "fal-ai/vibevoice", model_id="microsoft/vibevoice-1.5b")
VIBEVOICE_7B = spec("fal", "fal-ai/vibevoice/7b", model_id="microsoft/vibevoice-7b")
SCRIPT = (
    "Speaker 0: VibeVoice is now available on Fal. Isn't that right, Carter?\n"
    "Speaker 1: That's right Frank, and it supports up to four speakers at once. Try it now!"
)
SPEAKERS = [{"preset": "Frank [EN]"}, {"preset": "Carter [EN]"}]


def queue_replies(*audio: MockResponse, status: str = "completed") -> Replies:
    """Submit, one queued poll, the completed poll, the result, then the audio download."""
    return Replies(
        [
            MockResponse.json(fixture_json("fal/vibevoice_submitted.json")),
            MockResponse.json(fixture_json("fal/status_in_queue.json"), status=202),
            MockResponse.json(fixture_json(f"fal/status_{status}.json")),
            MockResponse.json(fixture_json("fal/vibevoice_result.json")),
            *audio,
        ]
    )


async def speaker(transport: Replies, time: FakeTime | None = None) -> FalSpeaker:
    clock = time or FakeTime()
    adapter = FalSpeaker(provider_config("fal", BASE), transport=transport, sleep=clock.sleep, clock=clock.clock)
    await adapter.start()
    return adapter


async def test_vibevoice_is_queued_polled_read_and_its_audio_fetched_without_our_key() -> None:
    download = MockResponse(200, {"Content-Type": "audio/mpeg"}, stream=[MP3[:HALF], MP3[HALF:]])
    transport = queue_replies(download)
    time = FakeTime()
    fal = await speaker(transport, time)

    audio = await fal.speak(
        SpeechRequest(
            "microsoft/vibevoice-1.5b", SCRIPT, options={"speakers": SPEAKERS, "cfg_scale": 1.3, "stream": False}
        ),
        VIBEVOICE,
    )

    submit, queued, completed, result, fetch = transport.requests
    assert (submit.method, submit.url) == ("POST", f"{BASE}/fal-ai/vibevoice")
    assert submit.headers["Authorization"] == f"Key {UPSTREAM_KEY}"
    assert json_body(submit) == {"script": SCRIPT, "speakers": SPEAKERS, "cfg_scale": 1.3}
    status_url = f"{BASE}/fal-ai/vibevoice/requests/{REQUEST_ID}/status"
    assert [(r.method, r.url) for r in (queued, completed)] == [("GET", status_url), ("GET", status_url)]
    assert (result.method, result.url) == ("GET", f"{BASE}/fal-ai/vibevoice/requests/{REQUEST_ID}")
    assert result.headers["Authorization"] == f"Key {UPSTREAM_KEY}"
    link = fixture_json("fal/vibevoice_result.json")["audio"]["url"]
    assert (fetch.method, fetch.url, fetch.headers) == ("GET", link, {})
    assert (audio.format, audio.content_type) == ("mp3", "audio/mpeg")
    assert await collect(audio) == [MP3[:HALF], MP3[HALF:]]
    assert download.closed
    assert len(time.waits) == 2  # one wait before each status question


async def test_the_voice_becomes_the_one_speaker_of_the_7b_app() -> None:
    transport = queue_replies(MockResponse(200, stream=[MP3]))
    fal = await speaker(transport)

    await collect(await fal.speak(SpeechRequest("m", "Hello there.", voice="Maya [EN]"), VIBEVOICE_7B))
    assert transport.requests[0].url == f"{BASE}/fal-ai/vibevoice/7b"
    assert json_body(transport.requests[0]) == {"script": "Hello there.", "speakers": [{"preset": "Maya [EN]"}]}
    # The 7B app's queue URLs are its owner/app's: fal/vibevoice here, as the returned URLs say.
    assert transport.requests[2].url.endswith(f"/requests/{REQUEST_ID}/status")


async def test_a_default_speaker_is_sent_when_none_is_given() -> None:
    transport = queue_replies(MockResponse(200, {"Content-Type": "audio/wav"}, stream=[b"RIFF" + bytes(40)]))
    fal = await speaker(transport)
    audio = await fal.speak(SpeechRequest("m", "Hi", options={"seed": 7}), VIBEVOICE)
    assert json_body(transport.requests[0]) == {"script": "Hi", "speakers": [{"preset": "Alice [EN]"}], "seed": 7}
    assert (audio.format, audio.content_type) == ("wav", "audio/wav")
    await collect(audio)


def test_what_vibevoice_cannot_take_is_refused_before_any_request() -> None:
    fal = FalSpeaker(provider_config("fal", BASE), transport=Replies([]))
    with pytest.raises(UnsupportedParameter):
        fal.check_speech(SpeechRequest("m", "Hi", speed=1.2), VIBEVOICE)
    with pytest.raises(UnsupportedParameter):
        fal.check_speech(SpeechRequest("m", "Hi", instructions="whisper"), VIBEVOICE)
    with pytest.raises(InvalidRequest, match="either 'voice' or 'speakers'"):
        fal.check_speech(SpeechRequest("m", "Hi", voice="Frank [EN]", options={"speakers": SPEAKERS}), VIBEVOICE)
    with pytest.raises(InvalidRequest, match="no speech input"):
        fal.check_speech(SpeechRequest("m", "Hi"), spec("fal", "fal-ai/kokoro/american-english"))


def test_the_audio_format_is_read_from_its_type_then_its_name() -> None:
    assert audio_format("audio/mpeg", "x.wav") == "mp3"
    assert audio_format("audio/x-wav", "") == "wav"
    assert audio_format("application/octet-stream", "/files/out.flac") == "flac"
    assert audio_format("", "/example_outputs/vibevoice.mp3") == "mp3"
    assert audio_format("", "/files/audio") == "wav"


async def test_the_declared_content_type_wins_over_the_stores_generic_one() -> None:
    transport = queue_replies(MockResponse(200, {"Content-Type": "binary/octet-stream"}, stream=[MP3]))
    fal = await speaker(transport)
    audio = await fal.speak(SpeechRequest("m", "Hi"), VIBEVOICE)
    # No content_type in fal's example File: the file name (.mp3) decides.
    assert (audio.format, audio.content_type) == ("mp3", "audio/mpeg")
    assert await collect(audio) == [MP3]


async def test_an_app_that_refuses_the_input_is_a_400_and_a_failed_download_a_502() -> None:
    refused = Replies([MockResponse.json(fixture_json("fal/error_validation.json"), status=422)])
    with pytest.raises(InvalidRequest):
        await (await speaker(refused)).speak(SpeechRequest("m", "Hi"), VIBEVOICE)

    broken = queue_replies(MockResponse(403, body=b"<Error>AccessDenied</Error>"))
    with pytest.raises(UpstreamError, match="could not be downloaded"):
        await (await speaker(broken)).speak(SpeechRequest("m", "Hi"), VIBEVOICE)


async def test_an_answer_without_an_audio_link_is_an_upstream_error() -> None:
    transport = queue_replies()
    transport.queue[-1] = MockResponse.json({"audio": {"url": ""}, "duration": 0})
    with pytest.raises(UpstreamError, match="no audio link"):
        await (await speaker(transport)).speak(SpeechRequest("m", "Hi"), VIBEVOICE)
