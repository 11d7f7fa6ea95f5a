"""Video jobs from create to downloaded file on an emulated upstream (BytePlus ModelArk's
Seedance tasks over HTTP, ``tests/job_emulator.py``), through clients nobody here wrote: the
AI/ML API's SDK (``videos.generate_with_polling``) and the ``openai`` SDK's ``videos``
resource, unchanged; then the upstream's failures: a failed task and a lost one, refunded."""

from __future__ import annotations

import time

import httpx2 as httpx
import openai
import pytest

from tests.job_emulator import VIDEO, SeedanceEmulator
from tests.sdk.runner import sdk
from tests.serving import Server

MODEL = "bytedance/seedance-1-0-lite-t2v"
SORA_SUNSET = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


def test_the_aimlapi_sdk_runs_a_seedance_job_to_its_file(seedance: tuple[Server, SeedanceEmulator]) -> None:
    server, emulator = seedance
    key, account = server.new_key(10_000_000)
    done = sdk(server, key, "video", MODEL, "A red fox in the snow", "5")
    result = done["result"]
    assert result["status"] == "completed", result
    assert done["seen"][0] == "queued"
    (sent,) = emulator.created
    assert sent == {
        "model": "seedance-1-0-lite-t2v-250428",
        "content": [{"type": "text", "text": "A red fox in the snow"}],
        "resolution": "1080p",  # what the reservation priced: the schema names no default
        "duration": 5,
        "watermark": False,
    }, sent
    assert emulator.downloads == 1  # re-hosted once: the client's link is the gateway's
    assert httpx.get(result["video"]["url"]).content == VIDEO
    charged = result["meta"]["usage"]["credits_used"]
    assert charged > 0
    assert server.balance(account) == 10_000_000 - charged
    assert server.usage_rows(account) == [(MODEL, 0, 0, charged, "ok")]


@SORA_SUNSET
def test_the_openai_sdk_videos_resource_on_seedance(seedance: tuple[Server, SeedanceEmulator]) -> None:
    server, _ = seedance
    key, _ = server.new_key(10_000_000)
    client = openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)
    # OpenAI's SDK types seconds as Sora's 4, 8 or 12; Seedance takes 5 or 10.
    video = client.videos.create_and_poll(
        model=MODEL,
        prompt="A wave",
        seconds="5",  # type: ignore[arg-type]
        poll_interval_ms=50,
    )
    assert video.status == "completed"
    assert client.videos.download_content(video.id).read() == VIDEO


@pytest.mark.parametrize(("prompt", "said"), [("FAIL", "failed"), ("LOST", "lost")])
def test_an_upstream_that_fails_or_loses_the_task_refunds_it(
    seedance: tuple[Server, SeedanceEmulator], prompt: str, said: str
) -> None:
    server, _ = seedance
    key, account = server.new_key(10_000_000)
    auth = {"Authorization": f"Bearer {key}"}
    created = httpx.post(f"{server.url}/v2/video/generations", headers=auth, json={"model": MODEL, "prompt": prompt})
    assert created.status_code == 200, created.text
    assert created.json()["meta"]["usage"]["credits_used"] > 0  # reserved
    job_id = created.json()["id"]
    deadline = time.monotonic() + 20
    while True:
        body = httpx.get(f"{server.url}/v2/video/generations", headers=auth, params={"generation_id": job_id}).json()
        if body["status"] in ("completed", "error"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert body["status"] == "error"
    assert said in body["error"]["message"]
    assert server.balance(account) == 10_000_000
    assert server.open_reservations() == 0
