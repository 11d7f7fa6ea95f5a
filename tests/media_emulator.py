"""OpenAI's images, speech and transcription endpoints, emulated over HTTP with their recorded
answers (tests/providers/fixtures/openai_media/), for end-to-end tests of the gateway's media
endpoints through the SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.loopback import LoopbackApp
from tests.providers.emulators import fixture
from tests.serving import Server, fake_settings
from unigate.providers.fake_media import wav_header


class Emulator:
    """OpenAI's images, speech and transcription endpoints answering their recorded payloads,
    on a loopback port, keeping what they were sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        app = web.Application()
        app.router.add_post("/v1/images/generations", self.generations)
        app.router.add_post("/v1/images/edits", self.edits)
        app.router.add_post("/v1/audio/speech", self.speech)
        app.router.add_post("/v1/audio/transcriptions", self.transcriptions)
        self.server = LoopbackApp(app)
        self.url = f"{self.server.origin}/v1"

    def stop(self) -> None:
        self.server.stop()

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
    """A gateway whose OpenAI provider is the emulator."""
    emulator = Emulator()
    env = {"OPENAI_API_KEY": "sk-upstream", "OPENAI_BASE_URL": emulator.url}
    server = Server(fake_settings(tmp_path, provider_env=env, management_key="mk-test")).start()
    yield server, emulator
    server.stop()
    emulator.stop()
