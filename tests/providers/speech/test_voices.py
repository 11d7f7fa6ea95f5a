# Recorded payloads: tests/providers/fixtures/alibaba/README.md (Model Studio's Qwen-TTS reference),
# tests/providers/fixtures/hume/README.md (Hume's SDK wire test and WireMock mappings) and
# tests/providers/fixtures/inworld/README.md (Inworld's API reference).
"""Alibaba Qwen TTS, Hume Octave and Inworld through ``MockTransport``: the exact requests, the
audio fetched, streamed or decoded, errors typed."""

from __future__ import annotations

import base64

import pytest

from tests.providers.emulators import UPSTREAM_KEY
from tests.providers.speech.helpers import Replies, collect, config, fixture, fixture_json, json_body, spec
from unigate.core.media import SpeechRequest
from unigate.errors import InvalidRequest, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.alibaba_tts import AlibabaSpeaker, native_origin
from unigate.providers.hume_tts import HumeSpeaker
from unigate.providers.inworld_tts import InworldSpeaker
from unigate.providers.transport.mock import MockResponse

WAV = fixture("deepgram/speak_aura2_thalia.wav")
MP3 = fixture("hume/generation_audio.mp3")
QWEN = spec("alibaba", "qwen3-tts-flash")
OCTAVE = spec("hume", "octave-2")
INWORLD = spec("inworld", "inworld-tts-1.5-max", model_id="inworld/tts-1-5-max")


def test_the_native_origin_is_the_compatible_base_urls_host() -> None:
    assert (
        native_origin("https://dashscope-intl.aliyuncs.com/compatible-mode/v1") == "https://dashscope-intl.aliyuncs.com"
    )
    assert native_origin("https://dashscope.aliyuncs.com/compatible-mode/v1") == "https://dashscope.aliyuncs.com"
    assert native_origin("http://proxy.internal/dashscope/compatible-mode/v1") == "http://proxy.internal/dashscope"


async def test_qwen_tts_is_asked_natively_and_its_audio_url_fetched_and_streamed_without_our_key() -> None:
    recorded = fixture_json("alibaba/qwen3_tts_flash.json")
    download = MockResponse(200, {"Content-Type": "audio/wav"}, stream=[WAV[:4096], WAV[4096:]])
    transport = Replies([MockResponse.json(recorded), download])
    speaker = AlibabaSpeaker(config("alibaba"), transport=transport)
    await speaker.start()
    text = "Cities of the future promise to radically transform how people live, work, and move."

    audio = await speaker.speak(
        SpeechRequest("alibaba/qwen3-tts-flash", text, voice="Ethan", options={"language_type": "English"}), QWEN
    )

    generate, fetch = transport.requests
    assert (generate.method, generate.url) == (
        "POST",
        "https://dashscope-intl.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation",
    )
    assert generate.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert json_body(generate) == {
        "model": "qwen3-tts-flash",
        "input": {"text": text, "voice": "Ethan", "language_type": "English"},
    }
    assert (fetch.method, fetch.url) == ("GET", recorded["output"]["audio"]["url"])
    assert fetch.headers == {}
    assert (audio.format, audio.content_type) == ("wav", "audio/wav")
    assert await collect(audio) == [WAV[:4096], WAV[4096:]]
    assert download.closed


async def test_qwen_tts_defaults_to_the_references_voice_and_refuses_what_it_cannot_do() -> None:
    transport = Replies(
        [MockResponse.json(fixture_json("alibaba/qwen3_tts_flash.json")), MockResponse(200, stream=[WAV])]
    )
    speaker = AlibabaSpeaker(config("alibaba"), transport=transport)
    await speaker.start()
    await collect(await speaker.speak(SpeechRequest("m", "Hi"), QWEN))

    assert json_body(transport.requests[0])["input"] == {"text": "Hi", "voice": "Cherry"}
    with pytest.raises(UnsupportedParameter):
        speaker.check_speech(SpeechRequest("m", "Hi", instructions="cheerful"), QWEN)
    with pytest.raises(UnsupportedParameter):
        speaker.check_speech(SpeechRequest("m", "Hi", speed=1.5), QWEN)


async def test_dashscope_errors_are_typed() -> None:
    body = fixture_json("alibaba/error_invalid_parameter.json")
    speaker = AlibabaSpeaker(config("alibaba"), transport=Replies([MockResponse.json(body, status=400)]))
    await speaker.start()
    with pytest.raises(InvalidRequest, match="Required parameter"):
        await speaker.speak(SpeechRequest("m", "Hi"), QWEN)


async def test_an_audio_url_that_fails_to_download_is_an_upstream_error() -> None:
    transport = Replies(
        [MockResponse.json(fixture_json("alibaba/qwen3_tts_flash.json")), MockResponse(403, body=b"<Error>")]
    )
    speaker = AlibabaSpeaker(config("alibaba"), transport=transport)
    await speaker.start()
    with pytest.raises(UpstreamError, match="could not be downloaded") as caught:
        await speaker.speak(SpeechRequest("m", "Hi"), QWEN)
    assert "ALIBABA_API_KEY" not in caught.value.message
    assert transport.responses[1].closed


async def test_octave_streams_with_the_sdks_request_shape() -> None:
    request_example = fixture_json("hume/tts_request.json")
    (utterance,) = request_example["utterances"]
    transport = Replies([MockResponse(200, {"Content-Type": "audio/mpeg"}, stream=[MP3[:9], MP3[9:]])])
    speaker = HumeSpeaker(config("hume"), transport=transport)
    await speaker.start()
    request = SpeechRequest("hume/octave-2", utterance["text"], voice="Ava Song", instructions=utterance["description"])

    audio = await speaker.speak(request, OCTAVE)

    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", "https://api.hume.ai/v0/tts/stream/file")
    assert sent.headers == {"X-Hume-Api-Key": UPSTREAM_KEY, "Content-Type": "application/json"}
    assert json_body(sent) == {
        "utterances": [{**utterance, "voice": {"name": "Ava Song", "provider": "HUME_AI"}}],
        "format": request_example["format"],
        "version": "2",
    }
    assert audio.format == "mp3"
    assert b"".join(await collect(audio)) == MP3


async def test_octave_asks_wav_when_asked_and_errors_are_typed() -> None:
    validation = MockResponse.json(fixture_json("hume/error_validation.json"), status=422)
    limited = MockResponse.json(fixture_json("hume/error_rate_limit.json"), status=429)
    transport = Replies([MockResponse(200, stream=[WAV]), validation, limited])
    speaker = HumeSpeaker(config("hume"), transport=transport)
    await speaker.start()

    wav = await speaker.speak(SpeechRequest("m", "Hi", format="wav"), OCTAVE)
    with pytest.raises(InvalidRequest, match="Field required"):
        await speaker.speak(SpeechRequest("m", ""), OCTAVE)
    with pytest.raises(RateLimited, match="API rate limit exceeded"):
        await speaker.speak(SpeechRequest("m", "Hi"), OCTAVE)

    body = json_body(transport.requests[0])
    assert body["format"] == {"type": "wav"}
    assert body["utterances"][0]["voice"]["name"] == "Vince Douglas"
    assert wav.format == "wav"


async def test_inworld_is_asked_with_basic_auth_and_its_base64_audio_decoded() -> None:
    recorded = fixture_json("inworld/voice.json")
    transport = Replies([MockResponse.json(recorded)])
    speaker = InworldSpeaker(config("inworld"), transport=transport)
    await speaker.start()
    text = "Hello, world! What a wonderful day to be a text-to-speech model!"

    audio = await speaker.speak(
        SpeechRequest("inworld/tts-1-5-max", text, voice="Dennis", format="wav", speed=1.2), INWORLD
    )

    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", "https://api.inworld.ai/tts/v1/voice")
    assert sent.headers["Authorization"] == f"Basic {UPSTREAM_KEY}"
    assert json_body(sent) == {
        "text": text,
        "voiceId": "Dennis",
        "modelId": "inworld-tts-1.5-max",
        "audioConfig": {"audioEncoding": "LINEAR16", "speakingRate": 1.2},
    }
    data = b"".join(await collect(audio))
    assert data == base64.b64decode(recorded["audioContent"])
    assert data.startswith(b"RIFF")
    assert (audio.format, audio.content_type) == ("wav", "audio/wav")


async def test_inworld_defaults_and_errors() -> None:
    error = MockResponse.json(fixture_json("inworld/error_invalid_argument.json"), status=400)
    transport = Replies([MockResponse.json(fixture_json("inworld/voice.json")), error])
    speaker = InworldSpeaker(config("inworld"), transport=transport)
    await speaker.start()

    await collect(await speaker.speak(SpeechRequest("m", "Hi", format="flac"), INWORLD))
    with pytest.raises(InvalidRequest, match="Unknown voice: alloy"):
        await speaker.speak(SpeechRequest("m", "Hi", voice="alloy"), INWORLD)

    body = json_body(transport.requests[0])
    assert (body["voiceId"], body["audioConfig"]) == ("Alex", {"audioEncoding": "MP3"})
    with pytest.raises(UnsupportedParameter):
        speaker.check_speech(SpeechRequest("m", "Hi", instructions="calm"), INWORLD)
