"""The official ``openai`` SDK, unchanged, against the gateway's media endpoints end to end: on
the embedded speech models (a sentence spoken by Piper comes back from Whisper with its words),
and on OpenAI's media API emulated over HTTP with its recorded answers (images generate and
edit, speech streamed to a file, transcription with word timestamps)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from tests.providers.emulators import fixture, fixture_json
from tests.serving import Server, fake_settings
from unigate.providers.fake_media import png, wav_header

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


class Emulator:
    """OpenAI's images, speech and transcription endpoints answering their recorded payloads,
    on a loopback port, keeping what they were sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.loop = asyncio.new_event_loop()
        self.url = ""
        app = web.Application()
        app.router.add_post("/v1/images/generations", self.generations)
        app.router.add_post("/v1/images/edits", self.edits)
        app.router.add_post("/v1/audio/speech", self.speech)
        app.router.add_post("/v1/audio/transcriptions", self.transcriptions)
        self.runner = web.AppRunner(app, access_log=None)
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/v1"
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        ready.wait(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def generations(self, request: web.Request) -> web.Response:
        self.seen.append(("generations", await request.json()))
        return web.Response(body=fixture("openai_media/images_gpt_image.json"), content_type="application/json")

    async def edits(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.seen.append(("edits", {k: (v.filename if hasattr(v, "filename") else v) for k, v in form.items()}))
        return web.Response(body=fixture("openai_media/images_gpt_image.json"), content_type="application/json")

    async def speech(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(("speech", await request.json()))
        response = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        await response.prepare(request)
        frames = 8_000
        await response.write(wav_header(frames))
        for _ in range(4):
            await response.write(b"\x00\x00" * (frames // 4))
        return response

    async def transcriptions(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.seen.append(("transcriptions", {k: v for k, v in form.items() if isinstance(v, str)}))
        return web.Response(body=fixture("openai_media/transcription_json.json"), content_type="application/json")


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[tuple[Server, Emulator]]:
    emulator = Emulator()
    env = {"OPENAI_API_KEY": "sk-upstream", "OPENAI_BASE_URL": emulator.url}
    server = Server(fake_settings(tmp_path, provider_env=env, management_key="mk-test")).start()
    yield server, emulator
    server.stop()
    emulator.stop()


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
