"""MiniMax ``music-01``'s legacy two-step flow on the service's paths, with the real MiniMax
runner behind them over ``MockTransport`` (recorded answers: ``fixtures/minimax/``): the upload
passed on as multipart and its ids answered in MiniMax's shape; the generation run as a job,
stored, charged once and answered in MiniMax's shape with the gateway's link."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.providers.emulators import fixture_json, provider_config
from tests.serving import Server, fake_settings
from unigate.core.services import Capabilities
from unigate.providers.minimax_music import MiniMaxMusic
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.minimax.io/v1"
RECORDING = b"RIFF" + b"\x00" * 4 + b"WAVEfmt " + b"\x00" * 64


class Upstream:
    def __init__(self) -> None:
        self.fail_upload = False
        self.transport = MockTransport(self.handle)

    def handle(self, request: Request) -> MockResponse:
        if request.url.endswith("/music_upload"):
            if self.fail_upload:
                return MockResponse.json({"base_resp": {"status_code": 2013, "status_msg": "invalid params"}})
            return MockResponse.json(fixture_json("minimax/music_upload.json"))
        assert request.url.endswith("/music_generation")
        return MockResponse.json(fixture_json("minimax/music_hex.json"))


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def server(tmp_path: Path, upstream: Upstream) -> Iterator[Server]:
    runner = MiniMaxMusic(provider_config("minimax", BASE), transport=upstream.transport)
    running = Server(
        fake_settings(tmp_path, management_key="mk-test"), capabilities={"minimax": Capabilities(music=runner)}
    ).start()
    yield running
    running.stop()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_upload_then_generate(server: Server, upstream: Upstream) -> None:
    key, account = server.new_key(10_000_000)
    uploaded = httpx.post(
        f"{server.url}/v2/generate/audio/minimax/upload",
        headers=_auth(key),
        data={"purpose": "song"},
        files={"file": ("song.wav", RECORDING, "audio/wav")},
        timeout=30,
    )
    assert uploaded.status_code == 200, uploaded.text
    ids = uploaded.json()
    assert ids["voice_id"].startswith("vocal-")
    assert ids["instrumental_id"].startswith("instrumental-")
    assert ids["base_resp"] == {"status_code": 0, "status_msg": "success"}
    sent = upstream.transport.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {provider_config('minimax', BASE).api_key}"
    assert b'name="purpose"\r\n\r\nsong' in sent.body
    assert RECORDING in sent.body
    assert server.usage_rows(account) == []  # an upload is not charged

    body = {"model": "music-01", "lyrics": "##la la##", "refer_voice": ids["voice_id"]}
    made = httpx.post(f"{server.url}/v2/generate/audio/minimax/generate", headers=_auth(key), json=body, timeout=30)
    assert made.status_code == 200, made.text
    answer = made.json()
    assert answer["data"]["status"] == 2
    assert answer["base_resp"]["status_code"] == 0
    assert answer["extra_info"]["audio_length"] == 1000
    assert httpx.get(answer["data"]["audio"]).content == b"abc"  # MiniMax's hex "616263", re-hosted
    credits = answer["meta"]["usage"]["credits_used"]
    assert credits > 0
    assert server.balance(account) == 10_000_000 - credits
    assert server.usage_rows(account) == [("music-01", 0, 0, credits, "ok")]


def test_refusals_before_anything_is_sent(server: Server, upstream: Upstream) -> None:
    key, account = server.new_key(10_000_000)
    no_purpose = httpx.post(
        f"{server.url}/v2/generate/audio/minimax/upload",
        headers=_auth(key),
        data={"purpose": "speech"},
        files={"file": ("a.wav", RECORDING, "audio/wav")},
    )
    assert no_purpose.status_code == 400
    assert no_purpose.json()["error"]["param"] == "purpose"
    no_ref = httpx.post(
        f"{server.url}/v2/generate/audio/minimax/generate",
        headers=_auth(key),
        json={"model": "music-01", "lyrics": "x"},
    )
    assert no_ref.status_code == 400
    other = httpx.post(
        f"{server.url}/v2/generate/audio/minimax/generate",
        headers=_auth(key),
        json={"model": "minimax/music-2.0", "lyrics": "x", "refer_voice": "v"},
    )
    assert other.status_code == 400
    assert upstream.transport.requests == []
    assert server.balance(account) == 10_000_000


def test_an_upload_minimax_refuses_is_its_error(server: Server, upstream: Upstream) -> None:
    upstream.fail_upload = True
    key, _ = server.new_key(10_000_000)
    answer = httpx.post(
        f"{server.url}/v2/generate/audio/minimax/upload",
        headers=_auth(key),
        data={"purpose": "voice"},
        files={"file": ("a.wav", RECORDING, "audio/wav")},
    )
    assert answer.status_code == 400  # MiniMax status_code 2013: invalid parameters
    assert "invalid params" in answer.json()["error"]["message"]
