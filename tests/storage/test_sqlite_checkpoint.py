"""WAL checkpoints run in a thread, and keep the -wal file bounded while the gateway keeps
writing (a passive checkpoint alone never lets it start over)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from unigate.accounts.store import Reservation, Settlement
from unigate.storage.sqlite.checkpoint import Checkpointer
from unigate.storage.sqlite.store import SqliteStore


async def test_the_wal_stays_bounded_under_steady_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    await store.open()
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # not in commits on the loop
    assert store._checkpointer is not None
    store._checkpointer.stop()
    store._checkpointer = Checkpointer(tmp_path / "w.db", interval_s=0.02, restart_pages=50)
    store._checkpointer.start()
    account = await store.create_account(name=None, credits=10**12)
    key, _ = await store.create_key(account_id=account, name=None)
    wal = tmp_path / "w.db-wal"
    largest = 0
    for _ in range(300):  # over 3,000 pages written in all (some 13 MB without restarts)
        held = await asyncio.gather(*(store.reserve(key=key, amount=10, ttl_s=60) for _ in range(5)))
        await asyncio.gather(
            *(store.settle(r, Settlement("m", 1, 1, 1, 1, "ok")) for r in held if isinstance(r, Reservation))
        )
        largest = max(largest, wal.stat().st_size)
        await asyncio.sleep(0.003)
    assert store._checkpointer.restarts > 0
    assert largest < 1500 * 4096, largest  # without restarts: every page written, over 3,000
    await store.close()
    assert await _balance_after_reopen(tmp_path / "w.db", account) == 10**12 - 300 * 5 * 1


async def _balance_after_reopen(path: Path, account: int) -> int:
    store = SqliteStore(path)
    await store.open()
    try:
        return await store.balance(account)
    finally:
        await store.close()
