"""Access log lines: JSON with the request id (also sent as ``X-Request-Id``), the key's prefix,
the model and the cost; never a key, and prompts only when switched on."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from tests.serving import Server, fake_settings
from unigate.observability.logging import JsonFormatter, TextFormatter, configure_logging

SECRET_PROMPT = "my secret prompt about zebras"


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """Everything the ``unigate`` loggers write at ``info``, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("unigate")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines() if line]


def _chat(server: Server, key: str, *, stream: bool = False, request_id: str | None = None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    body = {"model": "fake/echo", "messages": [{"role": "user", "content": SECRET_PROMPT}], "stream": stream}
    return httpx2.post(f"{server.url}/v1/chat/completions", headers=headers, json=body)


def test_a_request_line_has_its_id_and_cost_and_no_key(server: Server, access_log: io.StringIO) -> None:
    key, _ = server.new_key(credits=1_000_000)
    r = _chat(server, key)
    assert r.status_code == 200
    request_id = r.headers["X-Request-Id"]
    httpx2.get(f"{server.url}/v1/keys", headers={"Authorization": "Bearer mk-test"})
    lines = _lines(access_log)
    chat = next(line for line in lines if line.get("path") == "/v1/chat/completions")
    assert chat["request_id"] == request_id
    assert chat["logger"] == "unigate.access"
    assert (chat["method"], chat["status"], chat["route"]) == ("POST", 200, "/v1/chat/completions")
    assert chat["key_prefix"] == key[:8]
    assert chat["model"] == "fake/echo"
    assert chat["credits"] == r.json()["meta"]["usage"]["credits_used"]
    assert chat["completion_tokens"] == len(SECRET_PROMPT.split())
    assert chat["latency_ms"] >= 0
    everything = access_log.getvalue()
    assert key not in everything
    assert key[8:] not in everything
    assert "mk-test" not in everything
    assert SECRET_PROMPT not in everything
    assert "zebras" not in everything


def test_a_given_request_id_is_kept_and_streams_send_it(server: Server, access_log: io.StringIO) -> None:
    key, _ = server.new_key(credits=1_000_000)
    r = _chat(server, key, stream=True, request_id="trace-42.a")
    assert r.headers["X-Request-Id"] == "trace-42.a"
    assert any(line.get("request_id") == "trace-42.a" for line in _lines(access_log))
    r = _chat(server, key, request_id="not valid!" * 10)
    assert r.headers["X-Request-Id"] != "not valid!" * 10


def test_errors_and_console_requests_have_ids_too(server: Server, access_log: io.StringIO) -> None:
    r = httpx2.post(f"{server.url}/v1/chat/completions", json={})
    assert r.status_code == 401
    assert len(r.headers["X-Request-Id"]) == 16
    r = httpx2.get(f"{server.url}/console/login")
    assert r.headers["X-Request-Id"]
    statuses = {(line["path"], line["status"]) for line in _lines(access_log)}
    assert {("/v1/chat/completions", 401), ("/console/login", 200)} <= statuses


@pytest.fixture
def prompt_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path, management_key="mk-test", log_prompts=True)).start()
    yield running
    running.stop()


def test_prompts_are_logged_only_when_switched_on(prompt_server: Server, access_log: io.StringIO) -> None:
    key, _ = prompt_server.new_key(credits=1_000_000)
    _chat(prompt_server, key)
    chat = next(line for line in _lines(access_log) if line.get("path") == "/v1/chat/completions")
    assert chat["prompt"] == [{"role": "user", "content": SECRET_PROMPT}]
    assert key not in access_log.getvalue()


def test_warnings_carry_the_request_id_and_the_text_format() -> None:
    from unigate.observability.events import CURRENT, RequestRecord

    stream = io.StringIO()
    configure_logging(level="info", fmt="text", stream=stream)
    try:
        token = CURRENT.set(RequestRecord("abc123"))
        try:
            logging.getLogger("unigate.test").warning("upstream slow", extra={"fields": {"provider": "openai"}})
        finally:
            CURRENT.reset(token)
        line = stream.getvalue().strip()
        assert "WARNING unigate.test: upstream slow provider=openai request_id=abc123" in line
        assert isinstance(logging.getLogger().handlers[0].formatter, TextFormatter)
    finally:
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
