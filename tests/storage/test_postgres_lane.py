"""The batchers' own connections: reused across calls, replaced when broken or interrupted, kept
after an error of the statement, and closed only once the calls in flight have returned."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from unigate.accounts.store import Reservation, Settlement
from unigate.storage.postgres.lane import Lane
from unigate.storage.postgres.store import PostgresStore

pytestmark = pytest.mark.services


async def _backend(lane: Lane) -> int:
    row = await lane.fetchrow("SELECT pg_backend_pid() AS pid")
    assert row is not None
    return int(row["pid"])


async def test_one_connection_serves_every_call_and_a_statement_error_keeps_it(pg_url: str) -> None:
    lane = Lane(pg_url, command_timeout=10)
    try:
        pid = await _backend(lane)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await lane.fetchrow("SELECT 1 / 0")
        for _ in range(5):
            assert await _backend(lane) == pid
        assert lane.connections == 1
    finally:
        await lane.close()


async def test_a_connection_the_server_closed_is_replaced(pg_url: str) -> None:
    lane = Lane(pg_url, command_timeout=10)
    other = await asyncpg.connect(pg_url)
    try:
        pid = await _backend(lane)
        assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(50):  # the client notices the server's goodbye as its loop runs
            if lane._conn is None or lane._conn.is_closed():
                break
            await asyncio.sleep(0.02)
        assert await _backend(lane) != pid
        assert lane.connections == 2
    finally:
        await other.close()
        await lane.close()


async def test_a_call_interrupted_mid_flight_never_reuses_its_connection(pg_url: str) -> None:
    lane = Lane(pg_url, command_timeout=10)
    try:
        pid = await _backend(lane)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await lane.fetchrow("SELECT pg_sleep(5)")
        assert await _backend(lane) != pid  # not a connection still busy with the sleep
        assert lane.connections == 2
    finally:
        await lane.close()


async def test_closing_the_store_lets_a_settlement_in_flight_finish(pg_url: str) -> None:
    store = PostgresStore(pg_url, pool_size=2)
    await store.open()
    account = await store.create_account(name=None, credits=100)
    key, _ = await store.create_key(account_id=account, name=None)
    held = await store.reserve(key=key, amount=10, ttl_s=60)
    assert isinstance(held, Reservation)
    settling = asyncio.ensure_future(store.settle(held, Settlement("m", 4, 1, 1, 1, "ok")))
    await asyncio.sleep(0)  # queued, its call under way
    await store.close()
    assert settling.done()
    assert settling.exception() is None
    reopened = PostgresStore(pg_url, pool_size=2)
    await reopened.open()
    try:
        assert await reopened.balance(account) == 96
        assert await reopened.pool.fetchval("SELECT count(*) FROM reservations") == 0
    finally:
        await reopened.close()
