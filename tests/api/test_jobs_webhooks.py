"""A job's webhook from end to end: a create with ``callback_url``, the job ending on a poller,
one signed POST of the poll's answer to the receiver, verified as docs/webhooks.md tells
receivers to; a private address refused at create, before anything is charged."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import httpx2 as httpx
import orjson
import pytest

from tests.providers.resolvers import FakeResolver
from tests.providers.test_fetch import LOOPBACK
from tests.serving import Server, fake_settings
from unigate.providers.webhook_signing import verify
from unigate.providers.webhooks import HttpWebhooks, webhook_policy

SECRET = "webhook-secret-for-tests-0123456789abcdef"


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[tuple[dict[str, str], bytes]]]]:
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Receiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[Server]:
    webhooks = HttpWebhooks(
        SECRET,
        policy=replace(webhook_policy(), exempt=LOOPBACK, timeout_s=2.0),
        resolver=FakeResolver({"hooks.test": ["127.0.0.1"]}),
    )
    running = Server(fake_settings(tmp_path, management_key="mk-test"), webhooks=webhooks).start()
    yield running
    running.stop()


def test_a_finished_job_posts_its_answer_signed(
    hooked: Server, receiver: tuple[int, list[tuple[dict[str, str], bytes]]]
) -> None:
    port, received = receiver
    key, _ = hooked.new_key(1_000_000)
    body = {"model": "fake/video", "prompt": "x", "callback_url": f"http://hooks.test:{port}/done?t=1"}
    created = httpx.post(f"{hooked.url}/v2/video/generations", json=body, headers={"Authorization": f"Bearer {key}"})
    assert created.status_code == 200, created.text
    job_id = created.json()["id"]
    deadline = time.monotonic() + 20
    while not received:
        assert time.monotonic() < deadline, "no webhook arrived"
        time.sleep(0.05)
    headers, raw = received[0]
    assert headers["X-Unigate-Event"] == "job.completed"
    assert verify(SECRET, headers["X-Unigate-Timestamp"], raw, headers["X-Unigate-Signature"])
    payload = orjson.loads(raw)
    assert payload["id"] == job_id
    assert payload["status"] == "completed"
    assert payload["video"]["url"].startswith("http")
    assert payload["meta"]["usage"]["credits_used"] == 5_000
    time.sleep(0.3)
    assert len(received) == 1  # delivered once


def test_a_private_callback_url_is_refused_before_any_charge(hooked: Server) -> None:
    key, account = hooked.new_key(1_000_000)
    body = {"model": "fake/video", "prompt": "x", "callback_url": "http://169.254.169.254/latest"}
    answer = httpx.post(f"{hooked.url}/v2/video/generations", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "callback_url"
    assert hooked.balance(account) == 1_000_000
