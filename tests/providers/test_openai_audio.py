"""OpenAI's speech, transcription and translation through ``OpenAIMedia`` over a
``MockTransport``: the exact request, speech passed on chunk by chunk as it arrives and closed
upstream when the client stops, the recorded transcripts (fixtures/openai_media/README.md) read
into ``Transcript`` with their segments and words, and upstream errors as typed errors."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator

import pytest

from tests.providers.emulators import fixture_json
from tests.providers.media_upstream import BEARER, fields_of, form_parts, json_body, media_spec, open_adapter, replay
from unigate.core.media import Blob, Segment, SpeechRequest, TranscriptionRequest, Word
from unigate.errors import InvalidRequest, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.openai_media import OpenAIMedia, SpeechChunks
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import Handler, MockResponse, MockTransport

BASE = "https://api.openai.com/v1"
MINI_TTS = media_spec("openai", "openai/gpt-4o-mini-tts", "gpt-4o-mini-tts", "tts")
TTS_1 = media_spec("openai", "openai/tts-1", "tts-1", "tts")
WHISPER = media_spec("openai", "#g1_whisper-large", "whisper-1", "stt")
GPT_4O_TRANSCRIBE = media_spec("openai", "openai/gpt-4o-transcribe", "gpt-4o-transcribe", "stt")


def silence_wav(seconds: float = 0.25, rate: int = 24000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * int(rate * seconds))
    return out.getvalue()


AUDIO = silence_wav()
PIECES = (AUDIO[:44], AUDIO[44:4000], AUDIO[4000:9000], AUDIO[9000:])


async def media(handler: Handler) -> tuple[OpenAIMedia, MockTransport]:
    return await open_adapter(OpenAIMedia, "openai", BASE, handler)


def audio_answer(content_type: str = "audio/wav", pieces: tuple[bytes, ...] = PIECES) -> Handler:
    return lambda request: MockResponse(200, {"Content-Type": content_type}, stream=pieces)


# ---- speech ---------------------------------------------------------------------------------------


async def test_speech_is_passed_on_chunk_by_chunk_as_the_upstream_sends_it() -> None:
    adapter, transport = await media(audio_answer())
    request = SpeechRequest(
        model="openai/gpt-4o-mini-tts",
        text="The quick brown fox jumped over the lazy dog.",
        voice="coral",
        format="wav",
        speed=1.25,
        instructions="Speak cheerfully.",
    )
    adapter.check_speech(request, MINI_TTS)
    audio = await adapter.speak(request, MINI_TTS)
    (call,) = transport.requests
    assert (call.method, call.url) == ("POST", f"{BASE}/audio/speech")
    assert call.headers["Authorization"] == BEARER
    assert json_body(call) == {
        "model": "gpt-4o-mini-tts",
        "input": "The quick brown fox jumped over the lazy dog.",
        "voice": "coral",
        "response_format": "wav",
        "speed": 1.25,
        "instructions": "Speak cheerfully.",
    }
    assert (audio.content_type, audio.format) == ("audio/wav", "wav")
    chunks = [chunk async for chunk in audio.chunks]
    assert chunks == list(PIECES)  # as they came, none held back or merged
    (answer,) = transport.responses
    assert answer.consumed
    assert answer.closed


async def test_stopping_the_speech_closes_the_upstream_answer() -> None:
    adapter, transport = await media(audio_answer())
    audio = await adapter.speak(SpeechRequest(model="m", text="Hello"), TTS_1)
    assert isinstance(audio.chunks, SpeechChunks)
    assert await anext(audio.chunks) == PIECES[0]
    await audio.chunks.aclose()
    (answer,) = transport.responses
    assert answer.closed
    assert not answer.consumed  # dropped mid-body: OpenAI sees the cancel


async def test_speech_closed_before_any_chunk_is_read_still_closes_the_answer() -> None:
    adapter, transport = await media(audio_answer())
    audio = await adapter.speak(SpeechRequest(model="m", text="Hello"), TTS_1)
    assert isinstance(audio.chunks, SpeechChunks)
    await audio.chunks.aclose()
    assert transport.responses[0].closed


class SilentAnswer(MockResponse):
    """A 200 whose audio never comes."""

    async def chunks(self) -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""


async def test_cancelling_while_waiting_for_the_first_audio_closes_the_answer() -> None:
    answered = asyncio.Event()

    def silent(request: Request) -> MockResponse:
        answered.set()
        return SilentAnswer(200, {"Content-Type": "audio/mpeg"})

    adapter, transport = await media(silent)
    task = asyncio.create_task(adapter.speak(SpeechRequest(model="m", text="Hello"), TTS_1))
    await answered.wait()
    await asyncio.sleep(0.01)  # the adapter is now waiting for the first audio
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert transport.responses[0].closed


async def test_the_type_of_the_format_is_used_when_the_upstream_sends_none() -> None:
    adapter, transport = await media(audio_answer("application/octet-stream"))
    audio = await adapter.speak(SpeechRequest(model="m", text="Hello"), TTS_1)
    assert (audio.content_type, audio.format) == ("audio/mpeg", "mp3")
    request = json_body(transport.requests[0])
    assert request["voice"] == "alloy"  # OpenAI needs one: the service's default
    assert "instructions" not in request
    assert "speed" not in request


async def test_an_empty_answer_is_an_upstream_error_not_silence() -> None:
    adapter, _ = await media(audio_answer(pieces=()))
    with pytest.raises(UpstreamError, match="no audio"):
        await adapter.speak(SpeechRequest(model="m", text="Hello"), TTS_1)


async def test_a_failure_before_the_audio_is_its_typed_error() -> None:
    adapter, transport = await media(replay("openai/error_rate_limit.json", status=429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        await adapter.speak(SpeechRequest(model="m", text="Hello"), TTS_1)
    assert caught.value.headers == {"Retry-After": "7"}
    assert transport.responses[0].closed


async def test_the_service_style_field_becomes_instructions_where_the_model_takes_them() -> None:
    adapter, transport = await media(audio_answer())
    request = SpeechRequest(model="m", text="Hi", options={"style": "Whisper it.", "stream": True})
    adapter.check_speech(request, MINI_TTS)
    await adapter.speak(request, MINI_TTS)
    assert json_body(transport.requests[0])["instructions"] == "Whisper it."


@pytest.mark.parametrize(
    ("request_", "error", "param"),
    [
        (SpeechRequest(model="m", text="Hi", instructions="Calm."), InvalidRequest, "instructions"),
        (SpeechRequest(model="m", text="Hi", options={"style": "Calm."}), InvalidRequest, "style"),
        (SpeechRequest(model="m", text="Hi", format="ogg"), InvalidRequest, "response_format"),
        (SpeechRequest(model="m", text="Hi", options={"language": "en"}), UnsupportedParameter, "language"),
    ],
)
async def test_what_tts_1_cannot_do_is_refused_before_any_call(
    request_: SpeechRequest, error: type[InvalidRequest], param: str
) -> None:
    adapter, transport = await media(audio_answer())
    with pytest.raises(error) as caught:
        adapter.check_speech(request_, TTS_1)
    assert (caught.value.status, caught.value.param) == (400, param)
    assert transport.requests == []


# ---- transcription --------------------------------------------------------------------------------


def transcription(**changes: object) -> TranscriptionRequest:
    fields: dict[str, object] = {"model": "m", "audio": Blob(AUDIO, "audio/wav"), "duration_s": 0.25}
    fields.update(changes)
    return TranscriptionRequest(**fields)  # type: ignore[arg-type]


def sent_file(call: Request) -> tuple[str | None, str | None, bytes]:
    (part,) = [p for p in form_parts(call) if p.filename is not None]
    assert part.name == "file"
    return part.filename, part.content_type, part.data


async def test_whisper_is_asked_for_verbose_json_with_the_word_timestamps_asked() -> None:
    adapter, transport = await media(replay("openai_media/transcription_verbose_words.json"))
    request = transcription(language="en", prompt="Beach day.", temperature=0.2, timestamps=frozenset({"word"}))
    adapter.check_transcription(request, WHISPER)
    transcript = await adapter.transcribe(request, WHISPER)
    (call,) = transport.requests
    assert (call.method, call.url) == ("POST", f"{BASE}/audio/transcriptions")
    assert call.headers["Authorization"] == BEARER
    assert fields_of(form_parts(call)) == {
        "model": ["whisper-1"],
        "response_format": ["verbose_json"],
        "language": ["en"],
        "prompt": ["Beach day."],
        "temperature": ["0.2"],
        "timestamp_granularities[]": ["segment", "word"],
    }
    assert sent_file(call) == ("audio.wav", "audio/wav", AUDIO)  # OpenAI tells the format by the name
    recorded = fixture_json("openai_media/transcription_verbose_words.json")
    assert transcript.text == recorded["text"]
    assert (transcript.language, transcript.duration_s) == ("english", 8.470000267028809)
    assert transcript.words == (
        Word("The", 0.0, 0.23999999463558197),
        Word("volleyball", 7.400000095367432, 7.900000095367432),
    )
    assert transcript.segments == ()


async def test_verbose_segments_keep_their_timing_and_confidence() -> None:
    adapter, transport = await media(replay("openai_media/transcription_verbose_segments.json"))
    upload = Blob(AUDIO, "audio/mpeg", "speech.mp3")
    transcript = await adapter.transcribe(transcription(audio=upload), WHISPER)
    assert fields_of(form_parts(transport.requests[0]))["timestamp_granularities[]"] == ["segment"]
    assert sent_file(transport.requests[0])[:2] == ("speech.mp3", "audio/mpeg")
    assert transcript.segments == (
        Segment(
            id=0,
            start=0.0,
            end=3.319999933242798,
            text=" The beach was a popular spot on a hot summer day.",
            avg_logprob=-0.2860786020755768,
            no_speech_prob=0.00985979475080967,
        ),
    )


async def test_gpt_4o_transcribe_is_asked_for_json_only() -> None:
    adapter, transport = await media(replay("openai_media/transcription_json.json"))
    request = transcription(timestamps=frozenset({"word", "segment"}))
    adapter.check_transcription(request, GPT_4O_TRANSCRIBE)
    transcript = await adapter.transcribe(request, GPT_4O_TRANSCRIBE)
    assert fields_of(form_parts(transport.requests[0])) == {
        "model": ["gpt-4o-transcribe"],
        "response_format": ["json"],
    }
    assert transcript.text.startswith("Imagine the wildest idea")
    assert (transcript.language, transcript.duration_s, transcript.segments, transcript.words) == (None, None, (), ())


async def test_the_service_stt_temperature_option_is_sent_as_openais() -> None:
    adapter, transport = await media(replay("openai_media/transcription_json.json"))
    request = transcription(options={"temperature": 0.4})
    adapter.check_transcription(request, GPT_4O_TRANSCRIBE)
    await adapter.transcribe(request, GPT_4O_TRANSCRIBE)
    assert fields_of(form_parts(transport.requests[0]))["temperature"] == ["0.4"]


async def test_translation_goes_to_its_endpoint_without_a_language() -> None:
    adapter, transport = await media(replay("openai_media/translation.json"))
    request = transcription(task="translate", language="de", prompt="Greetings.")
    adapter.check_transcription(request, WHISPER)
    transcript = await adapter.transcribe(request, WHISPER)
    (call,) = transport.requests
    assert call.url == f"{BASE}/audio/translations"
    assert fields_of(form_parts(call)) == {
        "model": ["whisper-1"],
        "response_format": ["verbose_json"],
        "prompt": ["Greetings."],
    }
    assert transcript.text == "Hello, my name is Wolfgang and I come from Germany. Where are you heading today?"


async def test_what_the_transcription_models_cannot_do_is_refused() -> None:
    adapter, transport = await media(replay("openai_media/translation.json"))
    with pytest.raises(InvalidRequest) as translate:
        adapter.check_transcription(transcription(task="translate"), GPT_4O_TRANSCRIBE)
    assert translate.value.param == "model"
    with pytest.raises(UnsupportedParameter) as diarize:
        adapter.check_transcription(transcription(options={"diarize": True}), WHISPER)
    assert diarize.value.param == "diarize"
    assert transport.requests == []


async def test_transcription_errors_are_typed() -> None:
    adapter, _ = await media(replay("openai/error_bad_request.json", status=400))
    with pytest.raises(InvalidRequest) as bad:
        await adapter.transcribe(transcription(), WHISPER)
    assert bad.value.param == "messages[1].content"
    adapter, _ = await media(replay("openai/error_invalid_api_key.json", status=401))
    with pytest.raises(UpstreamError) as auth:
        await adapter.transcribe(transcription(), WHISPER)
    assert (auth.value.status, auth.value.code) == (502, "upstream_auth_failed")
    adapter, _ = await media(lambda request: MockResponse.json({"segments": []}))
    with pytest.raises(UpstreamError, match="without a transcript"):
        await adapter.transcribe(transcription(), WHISPER)


@pytest.mark.parametrize(
    ("filename", "content_type", "sent"),
    [
        ("", "audio/wav", "audio.wav"),
        ("memo", "audio/ogg; codecs=opus", "memo.ogg"),
        ("memo.oga", "audio/ogg", "memo.ogg"),
        ("call.M4A", "application/octet-stream", "call.M4A"),
        ("clip", "video/webm", "clip.webm"),
        ("take.2", "audio/flac", "take.flac"),
    ],
)
async def test_the_upload_is_named_with_an_extension_openai_knows(filename: str, content_type: str, sent: str) -> None:
    adapter, transport = await media(replay("openai_media/translation.json"))
    await adapter.transcribe(transcription(audio=Blob(AUDIO, content_type, filename)), WHISPER)
    assert sent_file(transport.requests[0])[0] == sent
