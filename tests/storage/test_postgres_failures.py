"""What the PostgreSQL store raises when its database goes away is what it declares as
``failures``: the API turns those into 503s and keeps a failed settlement to retry
(``tests/api/test_store_failures.py`` covers that behaviour on SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.services import free_port
from unigate.accounts.store import ApiKey, Reservation, Settlement
from unigate.storage.postgres.lane import Lane
from unigate.storage.postgres.store import PostgresStore

NOW = datetime.now(UTC)
KEY = ApiKey(1, "sk-test", 1, None, False, ("chat",), NOW, NOW)


async def test_an_unreachable_database_raises_store_failures() -> None:
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    with pytest.raises(store.failures):
        await store.open()
    with pytest.raises(store.failures):
        await store.reserve(key=KEY, amount=1, ttl_s=10)
    with pytest.raises(store.failures):
        await store.settle(Reservation("r1", 1, 1, 1), Settlement("m", 1, 1, 1, 1, "ok"))


@pytest.mark.services
async def test_a_connection_the_server_drops_mid_statement_raises_a_store_failure(pg_url: str) -> None:
    lane = Lane(pg_url, command_timeout=30)
    other = await asyncpg.connect(pg_url)
    try:
        row = await lane.fetchrow("SELECT pg_backend_pid() AS pid")
        assert row is not None
        sleeping = asyncio.ensure_future(lane.fetchrow("SELECT pg_sleep(20)"))
        await asyncio.sleep(0.2)
        assert await other.fetchval("SELECT pg_terminate_backend($1)", row["pid"])
        with pytest.raises(PostgresStore.failures):
            await asyncio.wait_for(sleeping, 10)
    finally:
        await other.close()
        await lane.close()
