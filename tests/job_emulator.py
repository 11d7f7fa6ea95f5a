"""BytePlus ModelArk's video tasks (Seedance), emulated over HTTP with their recorded answers
(tests/providers/fixtures/bytedance/), for end-to-end tests of the job endpoints through the
SDKs: a task is created, then answers queued, running and succeeded (or failed, or is lost, or
never ends) as the prompt asks; the finished video is served from ``videos.emulated.invalid``,
which no resolver knows, so the gateway's downloader reaches it through this same server acting
as its HTTP proxy (``UNIGATE_FETCH_VIA_PROXY``). The recorded answers' ``video_url`` is an https
link on ByteDance's storage; the emulator puts its own http link in its place (a proxy cannot
serve https without a tunnel)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.loopback import LoopbackApp
from tests.providers.emulators import fixture_json, provider_config
from tests.serving import Server, fake_settings
from unigate.core.jobs import JobTiming
from unigate.core.services import Capabilities
from unigate.providers.fake_jobs import fake_video
from unigate.providers.seedance_video import SeedanceVideo
from unigate.providers.transport import build_transport

VIDEO_HOST = "videos.emulated.invalid"
VIDEO = fake_video(5) * 50
QUICK = JobTiming(first_s=0.05, factor=1.5, max_interval_s=0.3, deadline_s=60.0)
"""Seedance's own timing polls first after 10 s; the emulated tasks end at once."""


class SeedanceEmulator:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.polls: dict[str, int] = {}
        self.prompts: dict[str, str] = {}
        self.downloads = 0
        app = web.Application()
        app.router.add_post("/api/v3/contents/generations/tasks", self.create)
        app.router.add_get("/api/v3/contents/generations/tasks/{id}", self.task)
        app.router.add_get("/{tail:.*}", self.video)
        self.server = LoopbackApp(app)
        self.origin = self.server.origin

    def stop(self) -> None:
        self.server.stop()

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.created.append(body)
        task = f"cgt-emulated-{len(self.created)}"
        self.prompts[task] = str(body["content"][0].get("text", ""))
        answer = fixture_json("bytedance/seedance_task_created.json")
        return web.json_response({**answer, "id": task})

    async def task(self, request: web.Request) -> web.Response:
        task = request.match_info["id"]
        prompt = self.prompts.get(task)
        if prompt is None or "LOST" in prompt:
            return web.json_response({"error": {"code": "NotFound", "message": "task not found"}}, status=404)
        count = self.polls[task] = self.polls.get(task, 0) + 1
        stage = "queued" if count == 1 else "running" if count == 2 or "NEVER" in prompt else "succeeded"
        if stage == "succeeded" and "FAIL" in prompt:
            stage = "failed"
        answer = copy.deepcopy(fixture_json(f"bytedance/seedance_task_{stage}.json"))
        answer["id"] = task
        if stage == "succeeded":
            answer["content"]["video_url"] = f"http://{VIDEO_HOST}/{task}.mp4"
        return web.json_response(answer)

    async def video(self, request: web.Request) -> web.Response:
        if request.host.split(":")[0] != VIDEO_HOST:
            raise web.HTTPNotFound()
        self.downloads += 1
        return web.Response(body=VIDEO, content_type="video/mp4")


@pytest.fixture
def seedance(tmp_path: Path) -> Iterator[tuple[Server, SeedanceEmulator]]:
    """A gateway whose ByteDance provider's video runner is the real Seedance adapter, over HTTP,
    on the emulator (its polls made quick); its downloads go through the emulator as a proxy."""
    emulator = SeedanceEmulator()
    runner = SeedanceVideo(provider_config("bytedance", f"{emulator.origin}/api/v3"), transport=build_transport(env={}))
    runner.timing = QUICK
    proxies = {"HTTP_PROXY": emulator.origin, "NO_PROXY": "127.0.0.1"}
    settings = replace(fake_settings(tmp_path, management_key="mk-test"), fetch_via_proxy=True, proxy_env=proxies)
    server = Server(settings, capabilities={"bytedance": Capabilities(video=runner)}).start()
    yield server, emulator
    server.stop()
    emulator.stop()
