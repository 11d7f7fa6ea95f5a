"""The running parts of accounts (``accounts/services.py``): their shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from unigate.accounts import services
from unigate.accounts.key_events import KeyEvents
from unigate.accounts.keycache import KeyCache
from unigate.accounts.services import AccountServices
from unigate.limits.memory import MemoryRateLimiter
from unigate.storage.sqlite.store import SqliteStore


@pytest.mark.services
async def test_shutdown_ends_when_redis_loses_the_listeners_cancellation(
    tmp_path: Path, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py can swallow the cancellation of a task blocked in a pub/sub read (seen here as a
    ``serve --workers 2`` that never exited on SIGTERM). The shutdown must still end."""
    read = PubSub.parse_response

    async def losing_cancellation(self: PubSub, *args: Any, **kwargs: Any) -> Any:
        try:
            return await read(self, *args, **kwargs)
        except asyncio.CancelledError:
            return await read(self, *args, **kwargs)  # the cancellation is lost, as in redis-py

    monkeypatch.setattr(PubSub, "parse_response", losing_cancellation)
    monkeypatch.setattr(services, "SHUTDOWN_WAIT_S", 0.3)
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    client = aioredis.Redis.from_url(redis_url)
    events = KeyEvents(client, prefix=redis_prefix)
    keys = KeyCache(store, ttl_s=30, publish=events.publish)
    running = AccountServices(keys=keys, limiter=MemoryRateLimiter(), events=events, redis=client).running(
        store, set(), reservation_ttl_s=120
    )
    await running.__aenter__()
    for _ in range(500):
        if keys.enabled:
            break
        await asyncio.sleep(0.01)
    assert keys.enabled  # subscribed
    await asyncio.sleep(0.05)  # the listener is blocked in its read

    closing = asyncio.create_task(running.__aexit__(None, None, None))
    done, _ = await asyncio.wait({closing}, timeout=10)
    try:
        assert closing in done, "the shutdown hung on the key-change listener"
        assert not closing.result()  # ended, without an error
        assert not keys.enabled  # the listener ended (it stops caching when it leaves)
    finally:
        closing.cancel()
        await store.close()
