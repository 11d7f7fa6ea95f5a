"""The sign-in throttle in Redis: one budget per address for every process, and the process's own
count while Redis cannot be reached."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests.services import free_port
from unigate.console.throttle import RedisThrottle


@pytest.mark.services
async def test_processes_share_one_budget_per_address(redis_url: str, redis_prefix: str) -> None:
    one, two = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    try:
        first = RedisThrottle(one, prefix=redis_prefix, max_failures=4)
        second = RedisThrottle(two, prefix=redis_prefix, max_failures=4)
        for throttle in (first, second, first):
            await throttle.failed("10.0.0.1")
        assert await first.retry_after("10.0.0.1") is None
        assert await second.retry_after("10.0.0.2") is None
        await second.failed("10.0.0.1")
        for throttle in (first, second):
            wait = await throttle.retry_after("10.0.0.1")
            assert wait is not None
            assert 590 < wait <= 600
        assert await first.retry_after("10.0.0.2") is None  # another address has its own budget
        await second.succeeded("10.0.0.1")
        assert await first.retry_after("10.0.0.1") is None
    finally:
        await one.aclose()
        await two.aclose()


async def test_without_redis_a_process_counts_on_its_own(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens there; no retries, so that each call fails at once.
    client = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    try:
        throttle = RedisThrottle(client, prefix="t:", max_failures=3)
        for _ in range(3):
            assert await throttle.retry_after("10.0.0.1") is None
            await throttle.failed("10.0.0.1")
        assert await throttle.retry_after("10.0.0.1") is not None
        await throttle.succeeded("10.0.0.1")
        assert await throttle.retry_after("10.0.0.1") is None
    finally:
        await client.aclose()
    assert "Redis unavailable, counting in this process" in caplog.text
