"""Rate limits through the API: 429 ``rate_limit_exceeded`` with ``Retry-After`` and the
``x-ratelimit-*`` headers, which successful responses carry too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.api.test_chat_fake import FAKE, post
from tests.api.test_errors import error_of
from tests.serving import Server, fake_settings

MK = {"Authorization": "Bearer mk-test"}
BODY = {"model": FAKE, "messages": [{"role": "user", "content": "a b c"}], "max_tokens": 10}


def key_with(server: Server, rate_limit: dict[str, Any]) -> str:
    r = httpx2.post(f"{server.url}/v1/keys", json={"credits": 1_000_000, "rate_limit": rate_limit}, headers=MK)
    key: str = r.json()["data"]["key"]
    return key


def test_requests_per_minute(server: Server) -> None:
    key = key_with(server, {"rpm": 2})
    first = post(server, key, BODY)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    assert "x-ratelimit-limit-tokens" not in first.headers
    assert post(server, key, BODY).headers["x-ratelimit-remaining-requests"] == "0"
    refused = post(server, key, BODY)
    err = error_of(refused, 429, code="rate_limit_exceeded")
    assert err["type"] == "rate_limit_error"
    assert "2 requests per minute" in err["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["retry-after-ms"]) <= 60_000
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    # Refused before anything was reserved or called.
    account = httpx2.get(f"{server.url}/v1/key", headers={"Authorization": f"Bearer {key}"}).json()["data"]
    assert len(server.usage_rows(account["account_id"])) == 2


def test_tokens_per_minute_count_the_maximum_output_at_admission(server: Server) -> None:
    key = key_with(server, {"tpm": 30})  # each request: 4 prompt (estimate) + 10 max output = 14
    ok = post(server, key, BODY)
    assert (ok.headers["x-ratelimit-limit-tokens"], ok.headers["x-ratelimit-remaining-tokens"]) == ("30", "16")
    assert post(server, key, BODY).status_code == 200
    err = error_of(post(server, key, BODY), 429, code="rate_limit_exceeded")
    assert "tokens per minute" in err["message"]
    too_large = post(server, key_with(server, {"tpm": 30}), {**BODY, "max_tokens": 100})
    assert "Request too large" in error_of(too_large, 429, code="rate_limit_exceeded")["message"]


def test_streams_carry_the_headers(server: Server) -> None:
    key = key_with(server, {"rpm": 5, "tpm": 1000})
    r = post(server, key, {**BODY, "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-ratelimit-remaining-requests"] == "4"
    assert r.headers["x-ratelimit-remaining-tokens"] == str(1000 - 14)


def test_unlimited_keys_get_no_headers(server: Server) -> None:
    key = key_with(server, {})
    assert not any(h.lower().startswith("x-ratelimit") for h in post(server, key, BODY).headers)


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path, management_key="mk-test", default_rpm=1)).start()
    yield running
    running.stop()


def test_the_gateway_default_applies_to_keys_without_their_own(limited_server: Server) -> None:
    default = key_with(limited_server, {})
    assert post(limited_server, default, BODY).status_code == 200
    error_of(post(limited_server, default, BODY), 429, code="rate_limit_exceeded")
    own = key_with(limited_server, {"rpm": 3})
    assert [post(limited_server, own, BODY).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_every_endpoint_and_its_errors_carry_the_headers(server: Server) -> None:
    key = key_with(server, {"rpm": 10})
    auth = {"Authorization": f"Bearer {key}"}
    bodies = {
        "/v1/messages": {"model": FAKE, "max_tokens": 10, "messages": [{"role": "user", "content": "a b"}]},
        "/v1/responses": {"model": FAKE, "input": "a b"},
        "/v1/completions": {"model": FAKE, "prompt": ["a b", "c"], "max_tokens": 5},
    }
    remaining = []
    for path, body in bodies.items():
        r = httpx2.post(f"{server.url}{path}", json=body, headers=auth, timeout=30)
        assert r.status_code == 200, r.text
        remaining.append(r.headers["x-ratelimit-remaining-requests"])
    # Each prompt of /v1/completions is admitted on its own: the response tells the last decision.
    assert remaining == ["9", "8", "6"]
    failed = post(server, key, {**BODY, "messages": [{"role": "user", "content": "FAIL"}]})
    assert failed.status_code == 502
    assert failed.headers["x-ratelimit-remaining-requests"] == "5"  # admitted, then the upstream failed
    other = key_with(server, {})
    assert "x-ratelimit-remaining-requests" not in post(server, other, BODY).headers  # each request its own
