"""The sliding one-minute window, in memory and in Redis: the same answers from both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from unigate.limits.memory import MemoryRateLimiter
from unigate.limits.redis import RedisRateLimiter
from unigate.limits.window import Decision, RateLimiter, duration, headers

WINDOW = 0.6


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter(window_s=WINDOW)
        return
    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    limiter = RedisRateLimiter(client, prefix=request.getfixturevalue("redis_prefix"), window_s=WINDOW)
    yield limiter
    await limiter.close()
    await client.aclose()


async def test_requests_per_window(limiter: RateLimiter) -> None:
    decisions = [await limiter.admit(1, rpm=3, tpm=None, tokens=10) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining_requests for d in decisions[:3]] == [2, 1, 0]
    refused = decisions[3]
    assert refused.reason == "requests"
    assert 0 < refused.retry_after_s <= WINDOW
    assert 0 < refused.reset_requests_s <= WINDOW
    assert (await limiter.admit(2, rpm=3, tpm=None, tokens=10)).allowed  # another key has its own window
    await asyncio.sleep(refused.retry_after_s + 0.05)
    assert (await limiter.admit(1, rpm=3, tpm=None, tokens=10)).allowed


async def test_the_window_slides_rather_than_resetting(limiter: RateLimiter) -> None:
    assert (await limiter.admit(1, rpm=2, tpm=None, tokens=0)).allowed
    await asyncio.sleep(WINDOW / 2)
    assert (await limiter.admit(1, rpm=2, tpm=None, tokens=0)).allowed
    await asyncio.sleep(WINDOW / 2 + 0.05)
    # The first admission left the window, the second has not: one slot, not two.
    assert (await limiter.admit(1, rpm=2, tpm=None, tokens=0)).allowed
    assert not (await limiter.admit(1, rpm=2, tpm=None, tokens=0)).allowed


async def test_tokens_per_window(limiter: RateLimiter) -> None:
    first = await limiter.admit(7, rpm=None, tpm=100, tokens=60)
    assert (first.allowed, first.remaining_tokens) == (True, 40)
    second = await limiter.admit(7, rpm=None, tpm=100, tokens=50)
    assert (second.allowed, second.reason) == (False, "tokens")
    assert 0 < second.retry_after_s <= WINDOW
    third = await limiter.admit(7, rpm=None, tpm=100, tokens=40)
    assert (third.allowed, third.remaining_tokens) == (True, 0)
    huge = await limiter.admit(8, rpm=None, tpm=100, tokens=101)
    assert (huge.allowed, huge.reason) == (False, "too_large")


async def test_a_refused_request_is_not_counted(limiter: RateLimiter) -> None:
    assert (await limiter.admit(3, rpm=5, tpm=100, tokens=90)).allowed
    for _ in range(5):
        assert not (await limiter.admit(3, rpm=5, tpm=100, tokens=20)).allowed
    assert (await limiter.admit(3, rpm=5, tpm=100, tokens=10)).allowed


def test_headers_follow_openai() -> None:
    ok = Decision(True, 60, 1000, 59, 900, 0.017, 0.017, 0.0)
    assert headers(ok) == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "17ms",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "17ms",
    }
    refused = Decision(False, 60, None, 0, 0, 59.5414, 0, 1.2, "requests")
    assert headers(refused) == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "59.541s",
        "Retry-After": "2",
        "retry-after-ms": "1200",
    }
    assert [duration(s) for s in (0, 1, 360, 61.5)] == ["0ms", "1s", "6m0s", "1m1.5s"]


@pytest.mark.services
async def test_redis_counts_once_for_all_processes(redis_url: str, redis_prefix: str) -> None:
    """Three clients (as three replicas would have) share one window."""
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(3)]
    limiters = [RedisRateLimiter(c, prefix=redis_prefix) for c in clients]
    try:
        decisions = await asyncio.gather(*(limiters[i % 3].admit(42, rpm=20, tpm=None, tokens=1) for i in range(90)))
        assert sum(d.allowed for d in decisions) == 20
    finally:
        for limiter, c in zip(limiters, clients, strict=True):
            await limiter.close()
            await c.aclose()


async def test_redis_down_admits() -> None:
    """Rate limits protect capacity, not money: an outage of Redis is not one of the gateway."""
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RedisRateLimiter(client, prefix="nowhere:")
    try:
        decision = await limiter.admit(1, rpm=1, tpm=None, tokens=1)
        assert decision.allowed
    finally:
        await limiter.close()
        await client.aclose()


@pytest.mark.services
async def test_redis_admissions_queued_together_go_in_one_call(redis_url: str, redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, prefix=redis_prefix)
    try:
        await client.script_flush()  # as after a restart of Redis: the first batch loads the script
        decisions = await asyncio.gather(*(limiter.admit(7, rpm=25, tpm=None, tokens=1) for _ in range(40)))
        assert [d.allowed for d in decisions] == [True] * 25 + [False] * 15  # in order, each counted once
        assert [d.remaining_requests for d in decisions[:3]] == [24, 23, 22]
        assert limiter._batches.batches <= 2  # the first call, then all that queued meanwhile
        assert await client.zcard(f"{redis_prefix}rl:7") == 25
    finally:
        await limiter.close()
        await client.aclose()


@pytest.mark.services
async def test_redis_admissions_of_several_keys_in_one_call_keep_their_own_limits(
    redis_url: str, redis_prefix: str
) -> None:
    """Each admission of a batch reads its own limits and tokens, whatever its place in the call."""
    client = aioredis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, prefix=redis_prefix)
    asks = [(1, 2, None, 1), (2, None, 100, 60), (3, None, None, 5), (4, 1, 50, 51)] * 3
    try:
        decisions = await asyncio.gather(
            *(limiter.admit(key, rpm=rpm, tpm=tpm, tokens=tokens) for key, rpm, tpm, tokens in asks)
        )
        assert limiter._batches.batches <= 2
        by_key = {key: [d for (k, *_), d in zip(asks, decisions, strict=True) if k == key] for key in (1, 2, 3, 4)}
        assert [(d.allowed, d.reason) for d in by_key[1]] == [(True, ""), (True, ""), (False, "requests")]
        assert [d.remaining_requests for d in by_key[1][:2]] == [1, 0]
        assert [(d.allowed, d.reason) for d in by_key[2]] == [(True, ""), (False, "tokens"), (False, "tokens")]
        assert by_key[2][0].remaining_tokens == 40
        assert all(d.allowed for d in by_key[3])
        assert [d.reason for d in by_key[4]] == ["too_large"] * 3
        assert await client.get(f"{redis_prefix}rl:3:tokens") == b"15"
    finally:
        await limiter.close()
        await client.aclose()


@pytest.mark.services
async def test_redis_limiter_reconnects_after_its_connection_is_closed(redis_url: str, redis_prefix: str) -> None:
    """Redis restarted, or dropped an idle client: the next admission still counts."""
    client, other = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, prefix=redis_prefix)
    try:
        assert (await limiter.admit(9, rpm=10, tpm=None, tokens=1)).remaining_requests == 9
        assert await other.client_kill_filter(_id=str(await client.client_id())) == 1
        assert (await limiter.admit(9, rpm=10, tpm=None, tokens=1)).remaining_requests == 8
        assert await other.zcard(f"{redis_prefix}rl:9") == 2
    finally:
        await limiter.close()
        await client.aclose()
        await other.aclose()
