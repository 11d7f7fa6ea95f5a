"""Group commit on SQLite: concurrent reservations and settlements share one transaction, an
operation that fails is undone alone, and a caller that leaves neither leaks nor loses a charge."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from unigate.accounts.store import ApiKey, Reservation, Settlement, UsageQuery
from unigate.storage.sqlite.store import SqliteStore


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "g.db")
    await store.open()
    yield store
    await store.close()


async def _key(store: SqliteStore, credits: int) -> ApiKey:
    account = await store.create_account(name=None, credits=credits)
    key, _ = await store.create_key(account_id=account, name=None)
    return key


def _rows(store: SqliteStore, table: str) -> int:
    return int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_concurrent_operations_share_one_transaction(sqlite: SqliteStore) -> None:
    key = await _key(sqlite, 1000)
    before = sqlite._batch.batches
    held = await asyncio.gather(*(sqlite.reserve(key=key, amount=10, ttl_s=60, model="m") for _ in range(20)))
    assert sqlite._batch.batches == before + 1
    assert all(isinstance(r, Reservation) for r in held)
    assert await sqlite.balance(key.account_id) == 800
    await asyncio.gather(
        *(sqlite.settle(r, Settlement("m", 4, 1, 1, 1, "ok")) for r in held if isinstance(r, Reservation))
    )
    assert sqlite._batch.batches == before + 2
    assert await sqlite.balance(key.account_id) == 1000 - 20 * 4
    assert _rows(sqlite, "reservations") == 0
    assert len(await sqlite.usage(UsageQuery(limit=100))) == 20


async def test_refusals_in_a_batch_see_the_reservations_before_them(sqlite: SqliteStore) -> None:
    key = await _key(sqlite, 35)
    outcomes = await asyncio.gather(*(sqlite.reserve(key=key, amount=10, ttl_s=60) for _ in range(5)))
    assert sum(isinstance(o, Reservation) for o in outcomes) == 3
    assert await sqlite.balance(key.account_id) == 5


async def test_a_failing_operation_is_undone_alone(sqlite: SqliteStore) -> None:
    key = await _key(sqlite, 100)

    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("UPDATE accounts SET balance = 0 WHERE id = ?", (key.account_id,))
        raise sqlite3.IntegrityError("boom")

    good = sqlite.reserve(key=key, amount=10, ttl_s=60)
    bad = sqlite._batch.submit(half_then_fail)
    outcome = await good
    with pytest.raises(sqlite3.IntegrityError):
        await bad
    assert isinstance(outcome, Reservation)
    assert await sqlite.balance(key.account_id) == 90  # the failed update was rolled back, not the reservation


async def test_a_reservation_abandoned_before_its_batch_never_happens(sqlite: SqliteStore) -> None:
    key = await _key(sqlite, 100)
    task = asyncio.ensure_future(sqlite.reserve(key=key, amount=10, ttl_s=60))
    await asyncio.sleep(0)  # queued, not yet committed
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.01)
    assert _rows(sqlite, "reservations") == 0
    assert await sqlite.balance(key.account_id) == 100


async def test_a_reservation_committed_for_a_caller_that_left_is_released_at_once(sqlite: SqliteStore) -> None:
    key = await _key(sqlite, 100)
    task = asyncio.ensure_future(sqlite.reserve(key=key, amount=10, ttl_s=60))
    await asyncio.sleep(0)  # the task waits on the batch
    sqlite._batch.flush()  # the batch commits; then, before the task resumes, it is cancelled
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.01)
    assert _rows(sqlite, "reservations") == 0
    assert await sqlite.balance(key.account_id) == 100
    [row] = await sqlite.usage(UsageQuery(limit=10))
    assert (row.status, row.credits) == ("cancelled", 0)


async def test_a_settlement_happens_even_if_its_caller_is_cancelled(sqlite: SqliteStore) -> None:
    key = await _key(sqlite, 100)
    held = await sqlite.reserve(key=key, amount=10, ttl_s=60)
    assert isinstance(held, Reservation)
    task = asyncio.ensure_future(sqlite.settle(held, Settlement("m", 7, 1, 1, 1, "ok")))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.01)
    assert await sqlite.balance(key.account_id) == 93
    assert _rows(sqlite, "reservations") == 0


async def test_closing_the_store_commits_what_is_queued(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    key = await _key(store, 100)
    held = await store.reserve(key=key, amount=10, ttl_s=60)
    assert isinstance(held, Reservation)
    pending = asyncio.ensure_future(store.settle(held, Settlement("m", 4, 1, 1, 1, "ok")))
    await asyncio.sleep(0)  # queued for the next turn of the loop
    await store.close()
    await pending
    reopened = SqliteStore(tmp_path / "c.db")
    await reopened.open()
    assert await reopened.balance(key.account_id) == 96
    await reopened.close()
