"""The embedded speech models, run for real: Piper's en_US-joe-medium voice speaks, Whisper
tiny.en listens. Each model loads once per module (about a second each on two cores).

What is checked: the audio is audio of the right kind and a plausible length, it streams sentence
by sentence, speed changes its length, the request checks refuse what the voice cannot do, and a
sentence spoken by one model comes back from the other with its words and sane timestamps."""

from __future__ import annotations

import asyncio
import io
import re
import struct
import time
from collections.abc import Iterator
from difflib import SequenceMatcher

import av
import numpy as np
import pytest

from tests.providers.conftest import run_blocking
from unigate.catalog.builtin import local_speech_spec, local_transcription_spec
from unigate.catalog.spec import ModelSpec
from unigate.core.media import Blob, SpeechAudio, SpeechRequest, Transcript, TranscriptionRequest
from unigate.errors import InvalidRequest, Overloaded, UnsupportedParameter
from unigate.providers.audio import audio_duration, decode_mono
from unigate.providers.speech_local import LocalSpeaker, LocalTranscriber
from unigate.settings import LocalSpeechSettings

TTS: ModelSpec = local_speech_spec(LocalSpeechSettings())
STT: ModelSpec = local_transcription_spec(LocalSpeechSettings())

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
STORY = (
    "The lighthouse keeper climbed the stairs at dusk. "
    "A storm was coming in from the west. "
    "He lit the great lamp and watched the ships. "
    "By morning the sea was calm again."
)


@pytest.fixture(scope="module")
def speaker() -> Iterator[LocalSpeaker]:
    speaker = LocalSpeaker(threads=2, preload=True)
    run_blocking(speaker.start())
    yield speaker
    run_blocking(speaker.close())


@pytest.fixture(scope="module")
def transcriber() -> Iterator[LocalTranscriber]:
    transcriber = LocalTranscriber(threads=2, preload=True)
    run_blocking(transcriber.start())
    yield transcriber
    run_blocking(transcriber.close())


async def spoken(speaker: LocalSpeaker, text: str, **fields: object) -> tuple[SpeechAudio, list[bytes]]:
    audio = await speaker.speak(SpeechRequest(model=TTS.id, text=text, **fields), TTS)  # type: ignore[arg-type]
    return audio, [chunk async for chunk in audio.chunks]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def seconds_per_character(seconds: float, text: str) -> float:
    return seconds / len(text)


# -- speech ---------------------------------------------------------------------------------------


async def test_wav_is_a_valid_recording_of_a_plausible_length(speaker: LocalSpeaker) -> None:
    audio, chunks = await spoken(speaker, SENTENCE, format="wav")
    assert (audio.format, audio.content_type) == ("wav", "audio/wav")
    data = b"".join(chunks)
    riff, _, wave, fmt, _, pcm, channels, rate, _, _, bits = struct.unpack("<4sI4s4sIHHIIHH", data[:36])
    assert (riff, wave, fmt, pcm, channels, rate, bits) == (b"RIFF", b"WAVE", b"fmt ", 1, 1, 22_050, 16)
    assert data[36:40] == b"data"
    samples = np.frombuffer(data[44:], dtype="<i2").astype(np.float32) / 32768
    seconds = len(samples) / 22_050
    # Read speech runs at 10 to 20 characters a second.
    assert 0.045 < seconds_per_character(seconds, SENTENCE) < 0.1, seconds
    assert float(np.sqrt(np.mean(samples**2))) > 0.05  # not silence
    assert abs(audio_duration(Blob(data, audio.content_type)) - seconds) < 0.01


@pytest.mark.parametrize(
    ("format", "content_type", "codec"),
    [
        ("mp3", "audio/mpeg", "mp3"),
        ("opus", "audio/ogg", "opus"),
        ("aac", "audio/aac", "aac"),
        ("flac", "audio/flac", "flac"),
    ],
)
async def test_each_encoded_format_decodes_to_speech(
    speaker: LocalSpeaker, format: str, content_type: str, codec: str
) -> None:
    audio, chunks = await spoken(speaker, SENTENCE, format=format, voice="alloy")
    assert (audio.format, audio.content_type) == (format, content_type)
    data = b"".join(chunks)
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.streams.audio[0].codec_context.name.startswith(codec)
    seconds = audio_duration(Blob(data, content_type))
    assert 0.045 < seconds_per_character(seconds, SENTENCE) < 0.1, seconds
    samples = decode_mono(Blob(data, content_type))
    assert float(np.sqrt(np.mean(samples**2))) > 0.05


async def test_pcm_is_raw_24_khz_samples(speaker: LocalSpeaker) -> None:
    audio, chunks = await spoken(speaker, SENTENCE, format="pcm")
    data = b"".join(chunks)
    assert audio.format == "pcm"
    assert len(data) % 2 == 0
    assert not data.startswith(b"RIFF")
    assert 0.045 < seconds_per_character(len(data) / 2 / 24_000, SENTENCE) < 0.1


async def test_a_story_streams_sentence_by_sentence(speaker: LocalSpeaker) -> None:
    started = time.perf_counter()
    audio = await speaker.speak(SpeechRequest(model=TTS.id, text=STORY, format="mp3"), TTS)
    first = time.perf_counter() - started
    arrivals, chunks = [], []
    async for chunk in audio.chunks:
        arrivals.append(time.perf_counter() - started)
        chunks.append(chunk)
    assert len(chunks) >= 4  # a chunk per sentence, and the encoder's tail
    # The first sentence was ready well before the last one was made.
    assert first < 0.6 * arrivals[-1], (first, arrivals)
    seconds = audio_duration(Blob(b"".join(chunks), "audio/mpeg"))
    assert 0.045 < seconds_per_character(seconds, STORY) < 0.1


async def test_speed_scales_the_length(speaker: LocalSpeaker) -> None:
    lengths = {}
    for speed in (0.5, 1.0, 2.0):
        _, chunks = await spoken(speaker, SENTENCE, format="pcm", speed=speed)
        lengths[speed] = sum(map(len, chunks))
    assert lengths[0.5] > 1.3 * lengths[1.0] > 1.3**2 * lengths[2.0]
    # Not four times: the network stretches the phonemes, not its pauses and transitions alike.
    assert 2.0 < lengths[0.5] / lengths[2.0] < 5.0


@pytest.mark.parametrize("voice", [None, "en_US-joe-medium", "joe", "alloy", "Nova", "shimmer"])
def test_every_voice_name_speaks_with_the_one_voice(speaker: LocalSpeaker, voice: str | None) -> None:
    speaker.check_speech(SpeechRequest(model=TTS.id, text="Hi.", voice=voice), TTS)


@pytest.mark.parametrize(
    ("fields", "param", "error"),
    [
        ({"voice": "en_GB-alan-low"}, "voice", InvalidRequest),
        ({"speed": 4.5}, "speed", InvalidRequest),
        ({"speed": 0.1}, "speed", InvalidRequest),
        ({"instructions": "Speak like a pirate."}, "instructions", UnsupportedParameter),
        ({"format": "ogg"}, "response_format", InvalidRequest),
        ({"options": {"emotion": "happy"}}, "emotion", UnsupportedParameter),
        ({"text": "   "}, "input", InvalidRequest),
        ({"text": "word " * 1000}, "input", InvalidRequest),
    ],
)
def test_what_the_voice_cannot_do_is_refused_before_any_work(
    speaker: LocalSpeaker, fields: dict[str, object], param: str, error: type[InvalidRequest]
) -> None:
    request = SpeechRequest(**{"model": TTS.id, "text": "Hello.", **fields})  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        speaker.check_speech(request, TTS)
    assert caught.value.param == param


@pytest.mark.parametrize("format", ["wav", "mp3"])
async def test_punctuation_alone_is_a_400_in_any_format(speaker: LocalSpeaker, format: str) -> None:
    with pytest.raises(InvalidRequest, match="no words to speak") as caught:
        await speaker.speak(SpeechRequest(model=TTS.id, text="...", format=format), TTS)
    assert caught.value.param == "input"


async def test_a_full_queue_is_a_503_and_closing_the_stream_frees_it() -> None:
    speaker = LocalSpeaker(threads=2, max_queue=1)
    await speaker.start()
    try:
        long = " ".join(f"This is sentence number {i} of a long text." for i in range(40))
        audio = await speaker.speak(SpeechRequest(model=TTS.id, text=long, format="wav"), TTS)
        with pytest.raises(Overloaded):
            await speaker.speak(SpeechRequest(model=TTS.id, text="Me too.", format="wav"), TTS)
        await audio.chunks.aclose()  # type: ignore[attr-defined]  # before reading a byte of it
        # Forty sentences take many seconds; stopped at the next one, the lane is free at once.
        deadline = time.monotonic() + 5
        while True:
            try:
                _, chunks = await spoken(speaker, "Me too.", format="wav")
                break
            except Overloaded:
                assert time.monotonic() < deadline, "the cancelled synthesis kept the lane"
                await asyncio.sleep(0.05)
        assert len(b"".join(chunks)) > 44
    finally:
        await speaker.close()


# -- transcription and the round trip ------------------------------------------------------------


async def transcribed(transcriber: LocalTranscriber, data: bytes, content_type: str, **fields: object) -> Transcript:
    blob = Blob(data, content_type, "speech")
    request = TranscriptionRequest(model=STT.id, audio=blob, duration_s=audio_duration(blob), **fields)  # type: ignore[arg-type]
    return await transcriber.transcribe(request, STT)


@pytest.mark.parametrize("format", ["wav", "mp3"])
async def test_a_spoken_sentence_comes_back_with_its_words(
    speaker: LocalSpeaker, transcriber: LocalTranscriber, format: str
) -> None:
    audio, chunks = await spoken(speaker, SENTENCE, format=format)
    data = b"".join(chunks)
    transcript = await transcribed(transcriber, data, audio.content_type)
    said, heard = words(SENTENCE), words(transcript.text)
    matched = sum(block.size for block in SequenceMatcher(a=said, b=heard).get_matching_blocks())
    assert matched >= 0.8 * len(said), (SENTENCE, transcript.text)
    assert len(heard) <= len(said) + 2
    assert transcript.language == "en"
    assert transcript.duration_s is not None
    assert abs(transcript.duration_s - audio_duration(Blob(data, audio.content_type))) < 0.1


async def test_segments_and_word_timestamps_are_ordered_and_inside_the_audio(
    speaker: LocalSpeaker, transcriber: LocalTranscriber
) -> None:
    _, chunks = await spoken(speaker, STORY, format="wav")
    data = b"".join(chunks)
    transcript = await transcribed(transcriber, data, "audio/wav", timestamps=frozenset({"segment", "word"}))
    duration = transcript.duration_s
    assert duration is not None
    assert transcript.segments
    assert [s.id for s in transcript.segments] == list(range(len(transcript.segments)))
    for segment in transcript.segments:
        assert 0 <= segment.start <= segment.end <= duration + 0.05
        assert segment.avg_logprob is not None
        assert -2 < segment.avg_logprob <= 0
        assert segment.no_speech_prob is not None
        assert 0 <= segment.no_speech_prob < 0.5
        assert "".join(w.word + " " for w in segment.words).split() == segment.text.split()
    spoken_words = transcript.words
    assert len(spoken_words) >= 0.8 * len(words(STORY))
    assert all(w.word == w.word.strip() and w.word for w in spoken_words)
    assert all(w.start <= w.end for w in spoken_words)
    starts = [w.start for w in spoken_words]
    assert starts == sorted(starts)
    assert all(w.confidence is not None and 0 <= w.confidence <= 1 for w in spoken_words)
    matched = SequenceMatcher(a=words(STORY), b=words(transcript.text)).ratio()
    assert matched > 0.8, transcript.text


async def test_words_are_left_out_unless_asked(speaker: LocalSpeaker, transcriber: LocalTranscriber) -> None:
    _, chunks = await spoken(speaker, "Good morning.", format="wav")
    # The service's form sends temperature as text among the options.
    options = {"temperature": "0.2"}
    transcript = await transcribed(transcriber, b"".join(chunks), "audio/wav", prompt="Good morning.", options=options)
    assert transcript.segments
    assert not transcript.words
    assert all(not s.words for s in transcript.segments)
    assert words(transcript.text) == ["good", "morning"]


@pytest.mark.parametrize(
    ("fields", "param", "says"),
    [
        ({"task": "translate"}, "model", "cannot translate"),
        ({"language": "fr"}, "language", "English only"),
        ({"temperature": 1.5}, "temperature", "from 0 to 1"),
        ({"options": {"temperature": "warm"}}, "temperature", "from 0 to 1"),
        ({"options": {"diarize": True}}, "diarize", "does not take 'diarize'"),
    ],
)
def test_what_an_english_only_model_cannot_do_is_refused(
    transcriber: LocalTranscriber, fields: dict[str, object], param: str, says: str
) -> None:
    request = TranscriptionRequest(model=STT.id, audio=Blob(b"", "audio/wav"), duration_s=1.0, **fields)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest) as caught:
        transcriber.check_transcription(request, STT)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert says in str(caught.value)


@pytest.mark.parametrize("language", [None, "en", "EN", "en-US", "english"])
def test_english_may_be_named(transcriber: LocalTranscriber, language: str | None) -> None:
    request = TranscriptionRequest(model=STT.id, audio=Blob(b"", "audio/wav"), duration_s=1.0, language=language)
    transcriber.check_transcription(request, STT)


async def test_a_file_that_is_not_audio_is_a_400(transcriber: LocalTranscriber) -> None:
    blob = Blob(b"%PDF-1.7\n" + bytes(range(256)) * 16, "audio/mpeg", "notes.pdf")
    request = TranscriptionRequest(model=STT.id, audio=blob, duration_s=1.0)
    with pytest.raises(InvalidRequest, match=r"'notes\.pdf' is not audio") as caught:
        await transcriber.transcribe(request, STT)
    assert caught.value.param == "file"
