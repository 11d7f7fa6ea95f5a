"""The official ``openai`` SDK, unchanged, against the gateway's media endpoints end to end: on
the embedded speech models (a sentence spoken by Piper comes back from Whisper with its words),
and on OpenAI's media API emulated over HTTP with its recorded answers (images generate and
edit, speech streamed to a file, transcription with word timestamps)."""

from __future__ import annotations

import re
from pathlib import Path

import openai

from tests.media_emulator import Emulator
from tests.providers.emulators import fixture_json
from tests.serving import Server
from unigate.providers.fake_media import png

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


def _client(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def test_the_embedded_models_speak_and_hear_a_sentence(server: Server, tmp_path: Path) -> None:
    key, account = server.new_key(10_000_000)
    client = _client(server, key)
    path = tmp_path / "fox.mp3"
    with client.audio.speech.with_streaming_response.create(
        model="piper", voice="alloy", input=SENTENCE, response_format="mp3"
    ) as speech:
        speech.stream_to_file(path)
    assert path.stat().st_size > 1_000
    with path.open("rb") as audio:
        heard = client.audio.transcriptions.create(
            model="whisper-tiny.en", file=audio, response_format="verbose_json", timestamp_granularities=["word"]
        )
    said = _words(SENTENCE)
    got = _words(heard.text)
    assert sum(w in got for w in said) >= 0.8 * len(said), heard.text
    assert heard.words is not None
    starts = [w.start for w in heard.words]
    assert starts == sorted(starts)
    rows = server.usage_rows(account)
    assert [r[0] for r in rows] == ["rhasspy/piper-en_US-joe-medium", "Systran/faster-whisper-tiny.en"]
    assert all(r[3] > 0 and r[4] == "ok" for r in rows)


# -- OpenAI's media API, emulated -----------------------------------------------------------------


def test_images_through_openai_emulated(emulated: tuple[Server, Emulator]) -> None:
    server, emulator = emulated
    key, account = server.new_key(10_000_000)
    client = _client(server, key)
    made = client.images.generate(model="openai/gpt-image-1", prompt="a lighthouse", quality="low", size="1024x1024")
    assert made.data is not None
    assert made.data[0].url is not None
    edited = client.images.edit(
        model="openai/gpt-image-1", image=("in.png", png(4, 4), "image/png"), prompt="at night", n=1
    )
    assert edited.data is not None
    assert [name for name, _ in emulator.seen] == ["generations", "edits"]
    sent = emulator.seen[0][1]
    assert sent["model"] == "gpt-image-1"
    assert sent["quality"] == "low"
    assert "response_format" not in sent  # gpt-image models refuse it upstream
    assert emulator.seen[1][1]["image"] == "in.png"
    rows = server.usage_rows(account)
    assert [(r[0], r[4]) for r in rows] == [("openai/gpt-image-1", "ok")] * 2
    assert rows[0][3] > 0


def test_speech_and_transcription_through_openai_emulated(emulated: tuple[Server, Emulator], tmp_path: Path) -> None:
    server, emulator = emulated
    key, _ = server.new_key(10_000_000)
    client = _client(server, key)
    path = tmp_path / "out.wav"
    with client.audio.speech.with_streaming_response.create(
        model="openai/tts-1", voice="alloy", input="Hello there.", response_format="wav"
    ) as speech:
        assert int(speech.headers["x-credits-used"]) > 0
        speech.stream_to_file(path)
    assert path.read_bytes().startswith(b"RIFF")
    assert emulator.seen[-1] == (
        "speech",
        {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "wav"},
    )
    with path.open("rb") as audio:
        heard = client.audio.transcriptions.create(model="openai/gpt-4o-transcribe", file=audio, language="en")
    assert heard.text == fixture_json("openai_media/transcription_json.json")["text"]
    name, form = emulator.seen[-1]
    assert name == "transcriptions"
    assert form["model"] == "gpt-4o-transcribe"
    assert form["response_format"] == "json"  # the richest this model gives
    assert form["language"] == "en"
