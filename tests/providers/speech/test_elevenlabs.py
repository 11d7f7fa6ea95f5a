# Recorded payloads: tests/providers/fixtures/elevenlabs/README.md (ElevenLabs' help center and OpenAPI
# document); voice ids: elevenlabs/elevenlabs-docs "Default Voices" (see providers/elevenlabs/voices.py).
"""ElevenLabs through ``MockTransport``: the voice name as its id in the URL, the body and output
format, the stream relayed, errors typed (an exhausted quota is not a wrong key)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY
from tests.providers.speech.helpers import Replies, collect, config, fixture_json, json_body, query, spec
from unigate.core.media import SpeechRequest
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.elevenlabs import ElevenLabsSpeaker
from unigate.providers.elevenlabs.voices import VOICE_IDS, voice_id
from unigate.providers.transport.mock import MockResponse

REFERENCE = Path("/work/shared/aimlapi-reference/models.json")
MULTILINGUAL = spec("elevenlabs", "eleven_multilingual_v2")
AUDIO = [b"\xff\xf3\xc4\x00", b"second frame", b"third frame"]
"""Opaque to the adapter: what it must relay byte for byte."""


async def started(transport: Replies) -> ElevenLabsSpeaker:
    speaker = ElevenLabsSpeaker(config("elevenlabs"), transport=transport)
    await speaker.start()
    return speaker


def test_every_voice_name_the_reference_offers_has_an_id() -> None:
    if not REFERENCE.exists():
        pytest.skip("the service reference is not in this workspace")
    models = orjson.loads(REFERENCE.read_bytes())["models"]
    names = {
        name
        for m in models
        if m["model"].startswith("elevenlabs/") and "voice" in m["request"]["fields"]
        for name in m["request"]["fields"]["voice"]["enum"]
    }
    assert len(names) == 53
    assert names == set(VOICE_IDS)
    assert len(set(VOICE_IDS.values())) == 53


def test_voice_names_are_matched_without_case_and_ids_pass_through() -> None:
    assert voice_id("Rachel") == voice_id("rachel") == "21m00Tcm4TlvDq8ikWAM"
    assert voice_id("santa claus") == "knrPHWnBmmDHMoiMeP3l"
    assert voice_id(None) == "21m00Tcm4TlvDq8ikWAM"  # the reference's default voice
    assert voice_id("abcdefghij0123456789") == "abcdefghij0123456789"  # a cloned voice's id
    assert voice_id("alloy") is None


async def test_a_named_voice_is_spoken_with_exactly_this_request_and_the_stream_relayed() -> None:
    transport = Replies([MockResponse(200, {"Content-Type": "audio/mpeg"}, stream=AUDIO)])
    speaker = await started(transport)
    settings = {"similarity_boost": 1, "stability": 1, "style": 0, "use_speaker_boost": True}
    request = SpeechRequest(
        "elevenlabs/eleven_multilingual_v2",
        "This is a test for the API of ElevenLabs.",
        voice="George",
        speed=1.1,
        options={"voice_settings": settings, "seed": 12345, "apply_text_normalization": "auto", "stream": True},
    )

    audio = await speaker.speak(request, MULTILINGUAL)

    sent = transport.requests[0]
    assert sent.url.split("?")[0] == "https://api.elevenlabs.io/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream"
    assert query(sent) == {"output_format": ["mp3_44100_128"]}
    assert sent.headers == {"xi-api-key": UPSTREAM_KEY, "Content-Type": "application/json"}
    assert json_body(sent) == {
        "text": "This is a test for the API of ElevenLabs.",
        "model_id": "eleven_multilingual_v2",
        "voice_settings": {**settings, "speed": 1.1},
        "seed": 12345,
        "apply_text_normalization": "auto",
    }
    assert (audio.format, audio.content_type) == ("mp3", "audio/mpeg")
    assert await collect(audio) == AUDIO
    assert transport.responses[0].closed


async def test_the_output_format_follows_the_asked_format_or_the_references_field() -> None:
    transport = Replies([MockResponse(200, stream=AUDIO) for _ in range(3)])
    speaker = await started(transport)
    v3 = spec("elevenlabs", "eleven_v3", "voice-chat", "elevenlabs/v3_alpha")

    pcm = await speaker.speak(SpeechRequest("m", "Hi", format="pcm"), v3)
    wav = await speaker.speak(SpeechRequest("m", "Hi", format="wav"), v3)
    ulaw = await speaker.speak(SpeechRequest("m", "Hi", options={"output_format": "ulaw_8000"}), v3)

    assert [query(r)["output_format"] for r in transport.requests] == [["pcm_24000"], ["mp3_44100_128"], ["ulaw_8000"]]
    assert [pcm.format, wav.format, ulaw.format] == ["pcm", "mp3", "mulaw"]  # no WAV from ElevenLabs: MP3, said so
    assert json_body(transport.requests[0])["model_id"] == "eleven_v3"


def test_an_unknown_voice_a_speed_out_of_range_and_instructions_fail_before_anything_is_sent() -> None:
    speaker = ElevenLabsSpeaker(config("elevenlabs"), transport=Replies([]))
    with pytest.raises(InvalidRequest) as voice:
        speaker.check_speech(SpeechRequest("m", "Hi", voice="alloy"), MULTILINGUAL)
    with pytest.raises(InvalidRequest) as speed:
        speaker.check_speech(SpeechRequest("m", "Hi", speed=2.0), MULTILINGUAL)
    with pytest.raises(UnsupportedParameter):
        speaker.check_speech(SpeechRequest("m", "Hi", instructions="calm"), MULTILINGUAL)
    assert voice.value.param == "voice"
    assert "Rachel" in voice.value.message
    assert speed.value.param == "speed"


@pytest.mark.parametrize(
    ("name", "status", "error", "text"),
    [
        ("error_character_limit.json", 400, InvalidRequest, "exceeds the character limit of 333 characters"),
        ("error_validation.json", 422, InvalidRequest, "Field required"),
        ("error_quota_exceeded.json", 401, UpstreamError, "This request exceeds your quota."),
    ],
)
async def test_upstream_errors_are_typed(name: str, status: int, error: type[Exception], text: str) -> None:
    speaker = await started(Replies([MockResponse.json(fixture_json(f"elevenlabs/{name}"), status=status)]))
    with pytest.raises(error) as caught:
        await speaker.speak(SpeechRequest("m", "Hi"), MULTILINGUAL)
    assert text in str(caught.value)
    assert getattr(caught.value, "code", None) != "upstream_auth_failed"


async def test_a_wrong_key_is_reported_as_ours_to_fix_without_echoing_the_upstream() -> None:
    body = fixture_json("elevenlabs/error_invalid_api_key.json")
    speaker = await started(Replies([MockResponse.json(body, status=401)]))
    with pytest.raises(UpstreamError) as caught:
        await speaker.speak(SpeechRequest("m", "Hi"), MULTILINGUAL)
    assert caught.value.code == "upstream_auth_failed"
    assert "ELEVENLABS_API_KEY" in caught.value.message
    assert "Invalid API key" not in caught.value.message


async def test_a_validation_error_names_the_field() -> None:
    body = fixture_json("elevenlabs/error_validation.json")
    speaker = await started(Replies([MockResponse.json(body, status=422)]))
    with pytest.raises(InvalidRequest) as caught:
        await speaker.speak(SpeechRequest("m", "Hi"), MULTILINGUAL)
    assert caught.value.param == "text"
