# Recorded payloads: tests/providers/fixtures/minimax/README.md (MiniMax's T2A HTTP reference and its
# error-code table).
"""MiniMax T2A v2 through ``MockTransport``: the exact body, the hex audio decoded, and a
``base_resp`` failure inside an HTTP 200 raised as the error its code stands for."""

from __future__ import annotations

import pytest

from tests.providers.emulators import UPSTREAM_KEY
from tests.providers.speech.helpers import Replies, collect, config, fixture, fixture_json, json_body, spec
from unigate.core.media import SpeechRequest
from unigate.errors import GatewayError, InvalidRequest, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.minimax_speech import MiniMaxSpeaker
from unigate.providers.transport.mock import MockResponse

HD = spec("minimax", "speech-2.8-hd", "voice-chat", "minimax/speech-2.8-hd")


async def started(transport: Replies) -> MiniMaxSpeaker:
    speaker = MiniMaxSpeaker(config("minimax"), transport=transport)
    await speaker.start()
    return speaker


async def test_the_services_settings_are_sent_as_t2a_v2_and_the_hex_audio_is_decoded() -> None:
    transport = Replies([MockResponse.json(fixture_json("minimax/t2a_v2.json"))])
    speaker = await started(transport)
    request = SpeechRequest(
        "minimax/speech-2.8-hd",
        "Omg(sighs), the real danger is not that computers start thinking like people.",
        options={
            "voice_setting": {"voice_id": "Calm_Woman", "vol": 1, "pitch": 0, "emotion": "happy"},
            "audio_setting": {"sample_rate": 32000, "bitrate": 128000, "format": "mp3", "channel": 1},
            "language_boost": "English",
            "stream": True,
        },
    )

    audio = await speaker.speak(request, HD)

    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", "https://api.minimax.io/v1/t2a_v2")
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert json_body(sent) == {
        "model": "speech-2.8-hd",
        "text": "Omg(sighs), the real danger is not that computers start thinking like people.",
        "stream": False,
        "output_format": "hex",
        "voice_setting": {"voice_id": "Calm_Woman", "vol": 1, "pitch": 0, "emotion": "happy"},
        "audio_setting": {"sample_rate": 32000, "bitrate": 128000, "format": "mp3", "channel": 1},
        "language_boost": "English",
    }
    assert (audio.format, audio.content_type) == ("mp3", "audio/mpeg")
    assert b"".join(await collect(audio)) == fixture("hume/generation_audio.mp3")


async def test_openai_style_fields_fill_the_voice_setting_and_the_format() -> None:
    transport = Replies([MockResponse.json(fixture_json("minimax/t2a_v2.json"))])
    speaker = await started(transport)

    await speaker.speak(SpeechRequest("m", "Hi", voice="Deep_Voice_Man", speed=1.5, format="flac"), HD)

    body = json_body(transport.requests[0])
    assert body["voice_setting"] == {"voice_id": "Deep_Voice_Man", "speed": 1.5}
    assert body["audio_setting"] == {"format": "flac"}


@pytest.mark.parametrize(
    ("name", "error", "text"),
    [
        ("t2a_v2_invalid_voice.json", InvalidRequest, "invalid samples or voice_id (status_code 20132)"),
        ("t2a_v2_rate_limit.json", RateLimited, "rate limit (status_code 1002)"),
    ],
)
async def test_a_base_resp_failure_in_a_200_is_the_error_its_code_stands_for(
    name: str, error: type[GatewayError], text: str
) -> None:
    speaker = await started(Replies([MockResponse.json(fixture_json(f"minimax/{name}"))]))
    with pytest.raises(error) as caught:
        await speaker.speak(SpeechRequest("m", "Hi"), HD)
    assert text in caught.value.message


async def test_a_base_resp_auth_failure_in_a_200_names_the_key_setting() -> None:
    speaker = await started(Replies([MockResponse.json(fixture_json("minimax/t2a_v2_unauthorized.json"))]))
    with pytest.raises(UpstreamError) as caught:
        await speaker.speak(SpeechRequest("m", "Hi"), HD)
    assert caught.value.code == "upstream_auth_failed"
    assert "MINIMAX_API_KEY" in caught.value.message


async def test_an_http_error_carrying_base_resp_is_read_the_same_way() -> None:
    body = fixture_json("minimax/t2a_v2_invalid_voice.json")
    speaker = await started(Replies([MockResponse.json(body, status=500)]))
    with pytest.raises(InvalidRequest, match="voice_id"):
        await speaker.speak(SpeechRequest("m", "Hi"), HD)


def test_instructions_and_speeds_minimax_cannot_make_fail_before_anything_is_sent() -> None:
    speaker = MiniMaxSpeaker(config("minimax"), transport=Replies([]))
    with pytest.raises(UnsupportedParameter):
        speaker.check_speech(SpeechRequest("m", "Hi", instructions="calm"), HD)
    with pytest.raises(InvalidRequest) as caught:
        speaker.check_speech(SpeechRequest("m", "Hi", speed=4.0), HD)
    assert caught.value.param == "speed"


@pytest.mark.parametrize(("audio", "text"), [("", "without any audio"), ("not hex", "not hex")])
async def test_a_200_without_usable_audio_is_an_upstream_error(audio: str, text: str) -> None:
    recorded = fixture_json("minimax/t2a_v2.json")
    speaker = await started(Replies([MockResponse.json({**recorded, "data": {"audio": audio, "status": 2}})]))
    with pytest.raises(UpstreamError, match=text):
        await speaker.speak(SpeechRequest("m", "Hi"), HD)
