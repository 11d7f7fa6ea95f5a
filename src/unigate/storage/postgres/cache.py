"""The response cache on PostgreSQL (``core/response_cache.py``'s ``ResponseCache``), in the
store's database, for deployments without Redis: as ``storage/sqlite/cache.py``."""

from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg

from unigate.core.response_cache import CachedEntry

__all__ = ["PostgresResponseCache"]

SWEEP_EVERY = 100


class PostgresResponseCache:
    def __init__(self, pool: Callable[[], asyncpg.Pool], *, max_entries: int) -> None:
        self._pool = pool
        self.max_entries = max_entries
        self._writes = 0

    async def get(self, scope: str, key: str) -> CachedEntry | None:
        row = await self._pool().fetchrow(
            "SELECT model, body FROM response_cache WHERE scope = $1 AND key = $2 AND expires > $3",
            scope,
            key,
            time.time(),
        )
        return None if row is None else CachedEntry(row["model"], bytes(row["body"]))

    async def put(self, scope: str, key: str, entry: CachedEntry, *, ttl_s: float) -> None:
        now = time.time()
        self._writes += 1
        async with self._pool().acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM response_cache WHERE expires <= $1", now)
            await conn.execute(
                "INSERT INTO response_cache (scope, key, model, body, created, expires) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (scope, key) DO UPDATE SET model = excluded.model, body = excluded.body,"
                " created = excluded.created, expires = excluded.expires",
                scope,
                key,
                entry.model,
                entry.body,
                now,
                now + ttl_s,
            )
            if self._writes % SWEEP_EVERY == 0:
                await conn.execute(
                    "DELETE FROM response_cache WHERE ctid IN (SELECT ctid FROM response_cache ORDER BY expires"
                    " LIMIT GREATEST(0, (SELECT count(*) FROM response_cache) - $1))",
                    self.max_entries,
                )

    async def invalidate(self, *, scope: str | None = None, model: str | None = None, key: str | None = None) -> int:
        given = {k: v for k, v in {"scope": scope, "model": model, "key": key}.items() if v is not None}
        if not given:
            raise ValueError("invalidate needs a scope, a model or a key")
        where = " AND ".join(f"{k} = ${i}" for i, k in enumerate(given, 1))
        status = await self._pool().execute(f"DELETE FROM response_cache WHERE {where}", *given.values())
        return int(status.split()[-1])
