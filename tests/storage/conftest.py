from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from unigate.accounts.store import Store
from unigate.storage.postgres.store import PostgresStore
from unigate.storage.sqlite.store import SqliteStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The same contract, on each backend."""
    opened: Store
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "unigate.db")
    else:
        opened = PostgresStore(request.getfixturevalue("pg_url"), pool_size=20)
    await opened.open()
    yield opened
    await opened.close()


async def set_period_start(store: Store, key_id: int, at: datetime) -> None:
    """Reach under the interface: pretend the key's spend was counted in another period."""
    if isinstance(store, SqliteStore):
        stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
        store.db.execute("UPDATE api_keys SET period_start = ? WHERE id = ?", (stamp, key_id))
    else:
        assert isinstance(store, PostgresStore)
        await store.pool.execute("UPDATE api_keys SET period_start = $1 WHERE id = $2", at, key_id)


async def scalar(store: Store, sql: str) -> int:
    if isinstance(store, SqliteStore):
        return int(store.db.execute(sql).fetchone()[0])
    assert isinstance(store, PostgresStore)
    return int(await store.pool.fetchval(sql))
