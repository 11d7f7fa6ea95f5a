"""A PostgreSQL connection of its own for one caller that never overlaps its calls.

A batcher (``primitives/batching.py``) has at most one call in flight, so it needs no pool:
through ``Pool.fetchrow`` each batch would pay an acquire and a release (the release runs in a
task of its own, shielded from cancellation), as much CPU as the call itself. A lane holds one
connection instead, opened on first use with the store's URL (so the same server settings,
``search_path`` included) and outside the pool, which keeps all of its connections for
everything else.

A connection that broke, or whose call was interrupted (cancelled, timed out), is closed and
never reused; the next call opens another. An error the server reported for the statement leaves
the connection as it was (a single statement runs in its own implicit transaction, which the
error ended), so it is kept.
"""

from __future__ import annotations

from typing import Any

import asyncpg

__all__ = ["Lane"]


class Lane:
    def __init__(self, url: str, *, command_timeout: float) -> None:
        self._url = url
        self._command_timeout = command_timeout
        self._conn: asyncpg.Connection | None = None
        self.connections = 0
        """Connections this lane opened (for tests)."""

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        conn = self._conn
        if conn is None or conn.is_closed():
            self._conn = None
            conn = await asyncpg.connect(self._url, command_timeout=self._command_timeout)
            self._conn = conn
            self.connections += 1
        try:
            return await conn.fetchrow(sql, *args)
        except BaseException as exc:
            if not isinstance(exc, asyncpg.PostgresError) or conn.is_closed():
                self._conn = None
                conn.terminate()
            raise

    async def close(self) -> None:
        """Close the connection; call it when no call is in flight (a later call opens another)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                conn.terminate()
