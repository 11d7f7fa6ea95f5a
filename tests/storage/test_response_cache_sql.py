"""The response cache's SQL backends directly: put, get, expiry, the size limit, invalidation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from unigate.core.response_cache import CachedEntry, ResponseCache
from unigate.storage.postgres.cache import PostgresResponseCache
from unigate.storage.postgres.store import PostgresStore
from unigate.storage.sqlite.cache import SqliteResponseCache
from unigate.storage.sqlite.store import SqliteStore


async def _exercise(cache: ResponseCache, sweep: Any) -> None:
    entry = CachedEntry("m-1", b'{"t": "x"}')
    await cache.put("a:1", "k1", entry, ttl_s=60)
    await cache.put("a:2", "k1", entry, ttl_s=60)
    await cache.put("a:1", "k2", CachedEntry("m-2", b"2"), ttl_s=0.2)
    assert await cache.get("a:1", "k1") == entry
    assert await cache.get("a:3", "k1") is None
    assert await cache.get("a:1", "k2") == CachedEntry("m-2", b"2")
    await asyncio.sleep(0.3)
    assert await cache.get("a:1", "k2") is None
    assert await cache.invalidate(model="m-1", scope="a:2") == 1
    assert await cache.invalidate(key="k1") == 1
    with pytest.raises(ValueError, match="needs"):
        await cache.invalidate()
    for i in range(sweep.SWEEP_EVERY):
        await cache.put("a:9", f"s{i}", entry, ttl_s=60 + i)
    assert await cache.get("a:9", "s0") is None  # past max_entries, closest to expiry first
    assert await cache.get("a:9", f"s{sweep.SWEEP_EVERY - 1}") == entry


def test_sqlite(tmp_path: Path) -> None:
    from unigate.storage.sqlite import cache as module

    async def run() -> None:
        store = SqliteStore(tmp_path / "u.db")
        await store.open()
        try:
            await _exercise(SqliteResponseCache(lambda: store.db, max_entries=10), module)
        finally:
            await store.close()

    asyncio.run(run())


@pytest.mark.services
def test_postgres(pg_url: str) -> None:
    from unigate.storage.postgres import cache as module

    async def run() -> None:
        store = PostgresStore(pg_url)
        await store.open()
        try:
            await _exercise(PostgresResponseCache(lambda: store.pool, max_entries=10), module)
        finally:
            await store.close()

    asyncio.run(run())
