"""The response cache of chat requests (``core/cache_flow.py``) through the whole gateway, on
SQLite and on Redis: hits served without an upstream call, streams replayed chunk for chunk, no
hit across accounts, only deterministic requests unless forced, TTL, invalidation, ledger rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.api.test_chat_fake import FAKE, post, sse_frames
from tests.serving import Server, fake_settings
from unigate.providers.fake import FakeProvider
from unigate.settings.cache import CacheSettings

MK = {"Authorization": "Bearer mk-test"}
ASK = {"model": FAKE, "messages": [{"role": "user", "content": "one two three"}], "temperature": 0, "cache": True}


def _serve(tmp_path: Path, **overrides: Any) -> tuple[Server, FakeProvider]:
    fake = FakeProvider()
    settings = fake_settings(tmp_path, management_key="mk-test", **overrides)
    return Server(settings, providers={"fake": fake}).start(), fake


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.services)])
def cached(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, FakeProvider]]:
    overrides: dict[str, Any] = {}
    if request.param == "redis":
        overrides = {
            "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    server, fake = _serve(tmp_path, **overrides)
    yield server, fake
    server.stop()


def _invalidate(server: Server, **body: Any) -> int:
    r = httpx2.post(f"{server.url}/v1/cache/invalidate", json=body, headers=MK, timeout=30)
    assert r.status_code == 200, r.text
    deleted: int = r.json()["deleted"]
    return deleted


def test_a_second_identical_request_is_served_from_the_cache(cached: tuple[Server, FakeProvider]) -> None:
    server, fake = cached
    key, account = server.new_key(credits=10_000)
    first = post(server, key, ASK)
    assert first.status_code == 200, first.text
    assert first.headers["x-unigate-cache"] == "miss"
    assert first.json()["meta"]["cache"] == {"hit": False}
    assert fake.calls == 1
    second = post(server, key, ASK)
    assert second.status_code == 200, second.text
    assert fake.calls == 1  # no upstream call
    assert second.headers["x-unigate-cache"] == "hit"
    assert second.headers["x-unigate-cache-key"] == first.headers["x-unigate-cache-key"]
    a, b = first.json(), second.json()
    assert b["meta"]["cache"] == {"hit": True}
    assert b["meta"]["usage"]["credits_used"] == 0  # free by default
    assert (b["choices"], b["usage"], b["model"]) == (a["choices"], a["usage"], a["model"])
    spent = a["meta"]["usage"]["credits_used"]
    assert server.balance(account) == 10_000 - spent
    assert server.usage_rows(account) == [(FAKE, 3, 3, spent, "ok"), (FAKE, 3, 3, 0, "cached")]
    assert server.open_reservations() == 0


def test_the_header_asks_too_and_a_request_that_does_not_ask_is_not_cached(
    cached: tuple[Server, FakeProvider],
) -> None:
    server, fake = cached
    key, _ = server.new_key(credits=10_000)
    plain = {k: v for k, v in ASK.items() if k != "cache"}
    r = post(server, key, plain)
    assert "x-unigate-cache" not in r.headers
    assert "cache" not in r.json()["meta"]
    assert post(server, key, plain).status_code == 200
    assert fake.calls == 2
    headers = {"Authorization": f"Bearer {key}", "x-unigate-cache": "true"}
    for expected in ("miss", "hit"):
        r = httpx2.post(f"{server.url}/v1/chat/completions", json=plain, headers=headers, timeout=30)
        assert r.headers["x-unigate-cache"] == expected
    assert fake.calls == 3


def test_a_stream_is_replayed_with_the_same_chunks(cached: tuple[Server, FakeProvider]) -> None:
    server, fake = cached
    key, account = server.new_key(credits=10_000)
    body = {**ASK, "stream": True, "stream_options": {"include_usage": True}}
    first, second = post(server, key, body), post(server, key, body)
    assert fake.calls == 1
    assert (first.headers["x-unigate-cache"], second.headers["x-unigate-cache"]) == ("miss", "hit")

    def chunks(text: str) -> list[Any]:
        frames = sse_frames(text)
        assert frames[-1] == "[DONE]"
        return [(f["choices"], f.get("usage"), f["model"]) for f in frames[:-1]]

    a, b = sse_frames(first.text), sse_frames(second.text)
    assert chunks(first.text) == chunks(second.text)
    assert len([f for f in a if f != "[DONE]" and f["choices"]]) == 4  # a chunk per token, then the finish
    assert (a[-2]["meta"]["cache"], b[-2]["meta"]["cache"]) == ({"hit": False}, {"hit": True})
    assert [r[4] for r in server.usage_rows(account)] == ["ok", "cached"]
    # A stream and a completion of the same request are different entries.
    assert post(server, key, ASK).headers["x-unigate-cache"] == "miss"


def test_no_hit_across_accounts(cached: tuple[Server, FakeProvider]) -> None:
    server, fake = cached
    one, _ = server.new_key(credits=10_000)
    other, account = server.new_key(credits=10_000)
    assert post(server, one, ASK).headers["x-unigate-cache"] == "miss"
    r = post(server, other, ASK)
    assert r.headers["x-unigate-cache"] == "miss"
    assert fake.calls == 2
    assert [row[4] for row in server.usage_rows(account)] == ["ok"]


def test_a_sampled_request_is_cached_only_when_forced(cached: tuple[Server, FakeProvider]) -> None:
    server, fake = cached
    key, _ = server.new_key(credits=10_000)
    sampled = {**ASK, "temperature": 0.7}
    for _ in range(2):
        r = post(server, key, sampled)
        assert "x-unigate-cache" not in r.headers
    assert fake.calls == 2
    seeded = {**sampled, "seed": 7}
    assert [post(server, key, seeded).headers["x-unigate-cache"] for _ in range(2)] == ["miss", "hit"]
    forced = {**sampled, "cache": {"force": True}}
    assert [post(server, key, forced).headers["x-unigate-cache"] for _ in range(2)] == ["miss", "hit"]
    assert fake.calls == 4


def test_an_entry_expires_after_its_ttl(cached: tuple[Server, FakeProvider]) -> None:
    server, fake = cached
    key, _ = server.new_key(credits=10_000)
    short = {**ASK, "cache": {"ttl": 0.5}}
    assert [post(server, key, short).headers["x-unigate-cache"] for _ in range(2)] == ["miss", "hit"]
    time.sleep(0.7)
    assert post(server, key, short).headers["x-unigate-cache"] == "miss"
    assert fake.calls == 2


def test_invalidation_by_account_model_and_entry(cached: tuple[Server, FakeProvider]) -> None:
    server, _fake = cached
    key, account = server.new_key(credits=10_000)
    other_key, _ = server.new_key(credits=10_000)
    post(server, key, ASK)
    entry = post(server, other_key, ASK).headers["x-unigate-cache-key"]
    assert _invalidate(server, account_id=account) == 1
    assert post(server, key, ASK).headers["x-unigate-cache"] == "miss"
    assert _invalidate(server, key_prefix=key[:8]) == 1  # an API key's: its account's entries
    assert post(server, key, ASK).headers["x-unigate-cache"] == "miss"
    unknown = httpx2.post(f"{server.url}/v1/cache/invalidate", json={"key_prefix": "nope"}, headers=MK, timeout=30)
    assert unknown.status_code == 404
    assert post(server, other_key, ASK).headers["x-unigate-cache"] == "hit"  # the other account kept its own
    assert _invalidate(server, key=entry) == 2  # the same request, in each account
    assert _invalidate(server, model=FAKE) == 0
    post(server, key, ASK)
    assert _invalidate(server, model=FAKE) == 1
    assert post(server, key, ASK).headers["x-unigate-cache"] == "miss"
    r = httpx2.post(f"{server.url}/v1/cache/invalidate", json={}, headers=MK, timeout=30)
    assert r.status_code == 400
    r = httpx2.post(
        f"{server.url}/v1/cache/invalidate", json={"model": FAKE}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code in (401, 403)


def test_hits_billed_in_full_when_the_operator_says_so(tmp_path: Path) -> None:
    server, fake = _serve(tmp_path, cache=CacheSettings(hit_billing="full", scope="global"))
    try:
        one, _account = server.new_key(credits=10_000)
        other, other_account = server.new_key(credits=10_000)
        spent = post(server, one, ASK).json()["meta"]["usage"]["credits_used"]
        r = post(server, other, ASK)  # shared between accounts: scope = "global"
        assert r.headers["x-unigate-cache"] == "hit"
        assert fake.calls == 1
        assert r.json()["meta"]["usage"]["credits_used"] == spent
        assert server.usage_rows(other_account) == [(FAKE, 3, 3, spent, "cached")]
        assert server.balance(other_account) == 10_000 - spent
    finally:
        server.stop()


def test_a_bad_cache_member_is_refused_and_an_off_cache_ignores_the_ask(tmp_path: Path) -> None:
    server, fake = _serve(tmp_path, cache=replace(CacheSettings(), enabled=False))
    try:
        key, _ = server.new_key(credits=10_000)
        r = post(server, key, {**ASK, "cache": {"ttl": -1}})
        assert r.status_code == 400
        assert r.json()["error"]["param"] == "cache"
        for _ in range(2):
            assert "x-unigate-cache" not in post(server, key, ASK).headers
        assert fake.calls == 2
    finally:
        server.stop()
