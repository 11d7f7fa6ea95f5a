"""``Store.change_counter``: SQLite tells the key cache that another process wrote to the file;
PostgreSQL has no such signal, so without Redis its processes do not cache keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from unigate.accounts.services import AccountServices
from unigate.settings import load_settings
from unigate.storage.postgres.store import PostgresStore
from unigate.storage.sqlite.store import SqliteStore


async def test_the_sqlite_counter_moves_when_another_connection_commits(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "u.db")
    await store.open()
    try:
        counter = store.change_counter
        before = counter()
        await store.create_account(name=None, credits=1)
        assert counter() == before  # its own writes: the store's cache already knows them
        with sqlite3.connect(tmp_path / "u.db") as other:
            other.execute("INSERT INTO meta (k, v) VALUES ('x', 'y')")
        assert counter() != before
    finally:
        await store.close()


def test_the_key_cache_without_redis_follows_the_store_s_counter(tmp_path: Path) -> None:
    settings = load_settings(env={"UNIGATE_DATA_DIR": str(tmp_path)})
    assert settings.redis_url is None
    assert settings.key_cache_ttl_s > 0
    postgres = PostgresStore("postgresql://u@db:5432/x")
    assert postgres.change_counter is None
    assert not AccountServices.from_settings(settings, postgres).keys.enabled
    assert AccountServices.from_settings(settings, SqliteStore(tmp_path / "u.db")).keys.enabled
