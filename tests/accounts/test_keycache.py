"""The key cache: without Redis, cached only on SQLite, where a write by another process (the
CLI) drops every entry; with Redis, a change published by one process reaches every other one
before the publisher gets its answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from unigate.accounts.key_events import KeyEvents
from unigate.accounts.keycache import EPOCH_CHECK_INTERVAL_S, KeyCache
from unigate.accounts.store import ApiKey, KeyChanges
from unigate.storage.sqlite.store import SqliteStore


class CountingStore(SqliteStore):
    lookups = 0

    async def authenticate(self, key: str) -> ApiKey | None:
        self.lookups += 1
        return await super().authenticate(key)


async def _store(tmp_path: Path) -> tuple[CountingStore, str]:
    store = CountingStore(tmp_path / "k.db")
    await store.open()
    account = await store.create_account(name=None, credits=0)
    _, plain = await store.create_key(account_id=account, name=None)
    return store, plain


async def test_without_a_channel_every_lookup_reads_the_store(tmp_path: Path) -> None:
    store, plain = await _store(tmp_path)
    cache = KeyCache(store, ttl_s=30)  # never subscribed: disabled
    for _ in range(3):
        assert await cache.authenticate(plain) is not None
    assert store.lookups == 3
    await store.update_key(plain[:8], KeyChanges(disabled=True))
    assert await cache.authenticate(plain) is None
    await store.close()


async def test_an_enabled_cache_serves_hits_and_forgets(tmp_path: Path) -> None:
    store, plain = await _store(tmp_path)
    cache = KeyCache(store, ttl_s=30)
    cache.enabled = True
    assert await cache.authenticate(plain) is not None
    assert await cache.authenticate(plain) is not None
    assert store.lookups == 1
    assert await cache.authenticate(plain[:8] + "0" * 24) is None  # a wrong key with a cached prefix
    assert store.lookups == 2
    await store.update_key(plain[:8], KeyChanges(disabled=True))
    await cache.changed(plain[:8])
    assert await cache.authenticate(plain) is None
    await store.close()


async def test_on_sqlite_a_change_by_another_process_drops_the_cache(tmp_path: Path) -> None:
    store, plain = await _store(tmp_path)
    cache = KeyCache(store, ttl_s=30, epoch=store.change_counter)
    assert cache.enabled
    for _ in range(3):
        assert await cache.authenticate(plain) is not None
    assert store.lookups == 1
    # This process's own writes (reservations, the ledger) keep the cache.
    key = await cache.authenticate(plain)
    assert key is not None
    await store.reserve(key=key, amount=0, ttl_s=60)
    assert await cache.authenticate(plain) is not None
    assert store.lookups == 1
    # `unigate keys disable` in another process: another connection to the same file.
    other = SqliteStore(tmp_path / "k.db")
    await other.open()
    await other.update_key(plain[:8], KeyChanges(disabled=True))
    await other.close()
    await asyncio.sleep(EPOCH_CHECK_INTERVAL_S)
    assert await cache.authenticate(plain) is None
    assert store.lookups == 2
    await store.close()


async def test_entries_expire(tmp_path: Path) -> None:
    store, plain = await _store(tmp_path)
    cache = KeyCache(store, ttl_s=0.05)
    cache.enabled = True
    await cache.authenticate(plain)
    await asyncio.sleep(0.06)
    await cache.authenticate(plain)
    assert store.lookups == 2
    await store.close()


@pytest.mark.services
async def test_a_change_on_one_process_evicts_the_key_everywhere(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    store, plain = await _store(tmp_path)
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(3)]
    events = [KeyEvents(c, prefix=redis_prefix) for c in clients]
    caches = [KeyCache(store, ttl_s=300, publish=e.publish) for e in events]
    listeners = [asyncio.create_task(e.listen(c)) for e, c in zip(events, caches, strict=True)]
    try:
        for _ in range(500):
            if all(c.enabled for c in caches):
                break
            await asyncio.sleep(0.01)
        for cache in caches:
            assert await cache.authenticate(plain) is not None
        assert store.lookups == 3
        await store.update_key(plain[:8], KeyChanges(disabled=True))
        await caches[0].changed(plain[:8])
        await asyncio.sleep(0.05)
        for cache in caches:
            assert await cache.authenticate(plain) is None
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        for c in clients:
            await c.aclose()
        await store.close()
    assert not any(c.enabled for c in caches)  # not listening: not caching
