"""The response cache on SQLite (``core/response_cache.py``'s ``ResponseCache``), in the store's
database and on its connection, for a gateway without Redis. Expired entries are never returned;
each write sweeps those that expired, and every ``SWEEP_EVERY`` writes the entries past
``max_entries``, those closest to expiry first."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from unigate.core.response_cache import CachedEntry
from unigate.storage.sqlite.connection import write

__all__ = ["SqliteResponseCache"]

SWEEP_EVERY = 100


class SqliteResponseCache:
    def __init__(self, db: Callable[[], sqlite3.Connection], *, max_entries: int) -> None:
        self._db = db
        self.max_entries = max_entries
        self._writes = 0

    async def get(self, scope: str, key: str) -> CachedEntry | None:
        row = (
            self._db()
            .execute(
                "SELECT model, body FROM response_cache WHERE scope = ? AND key = ? AND expires > ?",
                (scope, key, time.time()),
            )
            .fetchone()
        )
        return None if row is None else CachedEntry(row[0], bytes(row[1]))

    async def put(self, scope: str, key: str, entry: CachedEntry, *, ttl_s: float) -> None:
        now, db = time.time(), self._db()
        self._writes += 1
        with write(db):
            db.execute("DELETE FROM response_cache WHERE expires <= ?", (now,))
            db.execute(
                "INSERT INTO response_cache (scope, key, model, body, created, expires) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (scope, key) DO UPDATE SET model = excluded.model, body = excluded.body,"
                " created = excluded.created, expires = excluded.expires",
                (scope, key, entry.model, entry.body, now, now + ttl_s),
            )
            if self._writes % SWEEP_EVERY == 0:
                db.execute(
                    "DELETE FROM response_cache WHERE rowid IN (SELECT rowid FROM response_cache ORDER BY expires"
                    " LIMIT max(0, (SELECT count(*) FROM response_cache) - ?))",
                    (self.max_entries,),
                )

    async def invalidate(self, *, scope: str | None = None, model: str | None = None, key: str | None = None) -> int:
        where = {"scope": scope, "model": model, "key": key}
        given = {k: v for k, v in where.items() if v is not None}
        if not given:
            raise ValueError("invalidate needs a scope, a model or a key")
        db = self._db()
        with write(db):
            cur = db.execute(
                f"DELETE FROM response_cache WHERE {' AND '.join(f'{k} = ?' for k in given)}", tuple(given.values())
            )
        return cur.rowcount
