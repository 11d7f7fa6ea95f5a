# Recorded payloads: tests/providers/fixtures/deepgram/README.md (Deepgram's Python SDK test recordings
# and its Errors reference).
"""Deepgram through ``MockTransport``: the exact ``/v1/speak`` and ``/v1/listen`` requests, the
audio streamed chunk by chunk, the transcript read from a real answer, errors typed."""

from __future__ import annotations

import asyncio

import pytest

from tests.providers.emulators import UPSTREAM_KEY
from tests.providers.speech.helpers import Replies, collect, config, fixture, fixture_json, json_body, query, spec
from unigate.core.media import Blob, SpeechRequest, TranscriptionRequest
from unigate.errors import InvalidRequest, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.deepgram import DeepgramProvider
from unigate.providers.transport.base import HttpFailure, Request
from unigate.providers.transport.mock import MockResponse, MockTransport

WAV = fixture("deepgram/speak_aura2_thalia.wav")
RECORDED_TYPE = fixture_json("deepgram/speak_aura2_thalia_headers.json")["content_type"]
AUDIO = Blob(b"RIFF....WAVEfmt ", "audio/wav", "speech.wav")


def streamed(data: bytes, size: int = 1024, content_type: str = RECORDED_TYPE) -> MockResponse:
    """An audio answer arriving in pieces of ``size`` bytes, as Deepgram streams it."""
    return MockResponse(
        200, {"Content-Type": content_type}, stream=[data[i : i + size] for i in range(0, len(data), size)]
    )


async def started(transport: Replies) -> DeepgramProvider:
    provider = DeepgramProvider(config("deepgram"), transport=transport)
    await provider.start()
    return provider


async def test_an_aura_2_voice_id_is_spoken_with_exactly_this_request_and_streamed_in_chunks() -> None:
    transport = Replies([streamed(WAV)])
    provider = await started(transport)
    request = SpeechRequest("#g1_aura-2-thalia-en", "Hello, world.", format="wav", options={"sample_rate": "24000"})

    audio = await provider.speak(request, spec("deepgram", "aura-2-thalia-en", model_id="#g1_aura-2-thalia-en"))
    chunks = await collect(audio)

    sent = transport.requests[0]
    assert sent.method == "POST"
    assert sent.url.startswith("https://api.deepgram.com/v1/speak?")
    assert query(sent) == {
        "model": ["aura-2-thalia-en"],
        "encoding": ["linear16"],
        "container": ["wav"],
        "sample_rate": ["24000"],
    }
    assert sent.headers == {"Authorization": f"Token {UPSTREAM_KEY}", "Content-Type": "application/json"}
    assert json_body(sent) == {"text": "Hello, world."}
    assert (audio.format, audio.content_type) == ("wav", "audio/wav")
    assert len(chunks) == 8
    assert b"".join(chunks) == WAV
    assert transport.responses[0].closed


async def test_the_aura_family_takes_the_voice_and_mp3_is_asked_as_its_encoding() -> None:
    transport = Replies([streamed(b"\xff\xf3\xc4\x00mp3 frames", 4, "audio/mpeg")])
    provider = await started(transport)

    audio = await provider.speak(SpeechRequest("deepgram/aura-2", "Hola", voice="Celeste"), spec("deepgram", "aura-2"))
    await collect(audio)
    legacy = Replies([streamed(b"\xff\xf3mp3", 4, "audio/mpeg")])
    other = await started(legacy)
    await collect(await other.speak(SpeechRequest("deepgram/aura", "Hi"), spec("deepgram", "aura")))

    assert query(transport.requests[0]) == {"model": ["aura-2-celeste-es"], "encoding": ["mp3"]}
    assert query(legacy.requests[0])["model"] == ["aura-asteria-en"]  # the reference's default voice
    assert (audio.format, audio.content_type) == ("mp3", "audio/mpeg")


def test_a_voice_that_is_not_the_familys_fails_before_anything_is_sent() -> None:
    provider = DeepgramProvider(config("deepgram"), transport=Replies([]))
    with pytest.raises(InvalidRequest) as caught:
        provider.check_speech(SpeechRequest("deepgram/aura", "Hi", voice="alloy"), spec("deepgram", "aura"))
    assert caught.value.param == "voice"
    with pytest.raises(UnsupportedParameter):
        provider.check_speech(
            SpeechRequest("x", "Hi", instructions="whisper"), spec("deepgram", "aura-2-thalia-en", model_id="x")
        )


async def test_an_upstream_error_before_any_audio_is_typed_and_no_audio_object_is_returned() -> None:
    transport = Replies([MockResponse.json(fixture_json("deepgram/error_invalid_json.json"), status=400)])
    provider = await started(transport)

    with pytest.raises(InvalidRequest) as caught:
        await provider.speak(SpeechRequest("x", "Hi"), spec("deepgram", "aura-2-thalia-en"))

    assert "Invalid JSON submitted. Json deserialize error: missing field `xxx`" in caught.value.message
    assert transport.responses[0].closed


async def test_a_connection_that_breaks_before_the_first_chunk_is_an_error_not_a_short_200() -> None:
    broken = MockResponse(200, {"Content-Type": "audio/wav"}, stream=[], error=HttpFailure("reset", mid_body=True))
    provider = await started(Replies([broken]))

    with pytest.raises(UpstreamError, match="broke off mid-response"):
        await provider.speak(SpeechRequest("x", "Hi"), spec("deepgram", "aura-2-thalia-en"))
    assert broken.closed


async def test_closing_the_audio_early_closes_the_upstream_exchange() -> None:
    transport = Replies([streamed(WAV)])
    provider = await started(transport)
    audio = await provider.speak(SpeechRequest("x", "Hi", format="wav"), spec("deepgram", "aura-2-thalia-en"))

    first = await anext(audio.chunks)
    await audio.chunks.aclose()  # type: ignore[attr-defined]

    assert first == WAV[:1024]
    assert transport.responses[0].closed
    assert not transport.responses[0].consumed


async def test_cancelling_a_slow_upstream_leaves_no_exchange_open() -> None:
    gate = asyncio.Event()

    async def slow(request: Request) -> MockResponse:
        await gate.wait()
        return streamed(WAV)

    transport = MockTransport(slow)
    provider = DeepgramProvider(config("deepgram"), transport=transport)
    await provider.start()
    task = asyncio.create_task(provider.speak(SpeechRequest("x", "Hi"), spec("deepgram", "aura-2-thalia-en")))
    await asyncio.sleep(0)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert transport.responses == []


async def test_nova_transcribes_the_audio_bytes_with_the_services_options_as_deepgrams_query() -> None:
    transport = Replies([MockResponse.json(fixture_json("deepgram/listen_nova3.json"))])
    provider = await started(transport)
    request = TranscriptionRequest(
        "#g1_nova-2-meeting",
        AUDIO,
        duration_s=19.1,
        language="en",
        options={
            "smart_format": True,
            "punctuate": True,
            "multi_channel": False,
            "detect_topics": True,
            "tag": ["a", "b"],
        },
    )

    result = await provider.transcribe(request, spec("deepgram", "nova-2-meeting", "stt", "#g1_nova-2-meeting"))

    sent = transport.requests[0]
    assert sent.method == "POST"
    assert sent.url.startswith("https://api.deepgram.com/v1/listen?")
    assert query(sent) == {
        "model": ["nova-2-meeting"],
        "language": ["en"],
        "smart_format": ["true"],
        "punctuate": ["true"],
        "multichannel": ["false"],
        "topics": ["true"],
        "tag": ["a", "b"],
    }
    assert sent.headers == {"Authorization": f"Token {UPSTREAM_KEY}", "Content-Type": "audio/wav"}
    assert sent.body == AUDIO.data
    assert result.text.startswith("We, the people of The United States, in order to form a more perfect union")
    assert result.duration_s == pytest.approx(19.097937)
    assert result.language == "en"
    assert len(result.words) == 52
    assert result.words[-1].word == "America."
    first = result.words[0]
    assert (first.word, first.start, first.end, first.confidence) == ("We,", 0.32, 0.79999995, 0.8624085)
    assert result.native == fixture_json("deepgram/listen_nova3.json")


async def test_segment_timestamps_ask_for_utterances_and_become_segments() -> None:
    transport = Replies([MockResponse.json(fixture_json("deepgram/listen_utterances.json"))])
    provider = await started(transport)
    request = TranscriptionRequest("whisper", AUDIO, duration_s=5.0, timestamps=frozenset({"segment"}))

    result = await provider.transcribe(request, spec("deepgram", "whisper-large", "stt", "#g1_whisper-large"))

    assert query(transport.requests[0]) == {"model": ["whisper-large"], "utterances": ["true"]}
    (segment,) = result.segments
    assert (segment.id, segment.start, segment.end) == (0, 0.41915998, 5.43012)
    assert segment.text.startswith("four score and seven years ago")
    assert segment.words[0].word == "four"


def test_translation_and_prompts_are_refused_before_anything_is_sent() -> None:
    provider = DeepgramProvider(config("deepgram"), transport=Replies([]))
    nova = spec("deepgram", "nova-2-general", "stt")
    with pytest.raises(UnsupportedParameter) as caught:
        provider.check_transcription(TranscriptionRequest("m", AUDIO, 1.0, task="translate"), nova)
    assert caught.value.param == "task"
    with pytest.raises(UnsupportedParameter):
        provider.check_transcription(TranscriptionRequest("m", AUDIO, 1.0, prompt="names"), nova)


async def test_transcription_errors_are_typed_and_a_bad_key_is_never_echoed() -> None:
    bad_audio = MockResponse.json(fixture_json("deepgram/error_bad_audio.json"), status=400)
    bad_key = MockResponse.json(fixture_json("deepgram/error_bad_audio.json"), status=401)
    limited = MockResponse.json(fixture_json("deepgram/error_bad_audio.json"), status=429, headers={"Retry-After": "3"})
    provider = await started(Replies([bad_audio, bad_key, limited]))
    request = TranscriptionRequest("m", AUDIO, 1.0)
    nova = spec("deepgram", "nova-2-general", "stt")

    with pytest.raises(InvalidRequest, match="failed to process audio: corrupt or unsupported data"):
        await provider.transcribe(request, nova)
    with pytest.raises(UpstreamError) as auth:
        await provider.transcribe(request, nova)
    with pytest.raises(RateLimited) as limit:
        await provider.transcribe(request, nova)

    assert auth.value.code == "upstream_auth_failed"
    assert "DEEPGRAM_API_KEY" in auth.value.message
    assert "corrupt" not in auth.value.message
    assert limit.value.headers == {"Retry-After": "3"}
