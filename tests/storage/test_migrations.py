"""Schema migrations: applied on open, once, also when several processes start together, and a
database older than versioning is brought up to date with its data."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from tests import services
from unigate.accounts import keys
from unigate.accounts.store import Reservation, Settlement
from unigate.storage.postgres.schema import MIGRATIONS as PG_MIGRATIONS
from unigate.storage.postgres.schema import first_schema, quote_ident
from unigate.storage.postgres.store import PostgresStore
from unigate.storage.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS
from unigate.storage.sqlite.store import SqliteStore


def _version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


async def test_sqlite_database_from_before_versioning_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    plain = "cd" * 16
    with sqlite3.connect(path) as db:
        for statement in SQLITE_MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO accounts (id, name, balance, created_at) VALUES (1, 'old', 500, '2025-01-01')")
        db.execute(
            "INSERT INTO api_keys (prefix, digest, account_id, created_at, updated_at) VALUES (?, ?, 1, ?, ?)",
            (plain[:8], keys.digest(plain), "2025-01-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"),
        )
    store = SqliteStore(path)
    await store.open()
    try:
        key = await store.authenticate(plain)
        assert key is not None
        assert (key.limit, key.rpm, key.scopes) == (None, None, ())
        reservation = await store.reserve(key=key, amount=100, ttl_s=60)
        assert isinstance(reservation, Reservation)
        await store.settle(reservation, Settlement("m", 40, 1, 1, 1, "ok"))
        assert await store.balance(1) == 460
    finally:
        await store.close()
    assert _version(path) == len(SQLITE_MIGRATIONS)


async def test_sqlite_open_is_idempotent_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    for _ in range(2):
        store = SqliteStore(path)
        await store.open()
        await store.close()
    assert _version(path) == len(SQLITE_MIGRATIONS)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(SQLITE_MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await SqliteStore(path).open()


@pytest.mark.services
async def test_postgres_replicas_starting_together_migrate_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url, pool_size=2) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        versions = await stores[0].pool.fetch("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in versions] == list(range(1, len(PG_MIGRATIONS) + 1))
        account = await stores[1].create_account(name=None, credits=1)
        assert await stores[2].balance(account) == 1
    finally:
        await asyncio.gather(*(s.close() for s in stores))


@pytest.mark.services
async def test_postgres_refuses_a_newer_schema(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    await store.pool.execute("INSERT INTO schema_version (version) VALUES ($1)", len(PG_MIGRATIONS) + 1)
    await store.close()
    with pytest.raises(RuntimeError, match="newer"):
        await PostgresStore(pg_url).open()


@pytest.mark.services
async def test_postgres_schema_is_the_search_path_one(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        schema = pg_url.rsplit("search_path=", 1)[1]
        tables = await store.pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
        assert {r["tablename"] for r in tables} >= {"accounts", "api_keys", "reservations", "usage", "meta"}
    finally:
        await store.close()


@pytest.mark.parametrize("template", ["t_{}", 'T "{}" x'])
@pytest.mark.services
async def test_postgres_creates_a_missing_search_path_schema(template: str) -> None:
    base = services.postgres_url()
    assert base is not None
    schema = template.format(secrets.token_hex(6))
    # As PostgreSQL reads search_path: an unquoted name is lower-cased, a quoted one kept ("" is a quote).
    first = schema if schema == schema.lower() and schema.isidentifier() else quote_ident(schema)
    url = f"{base}?search_path={quote(first + ', public')}"
    stores = [PostgresStore(url, pool_size=2) for _ in range(3)]
    try:
        await asyncio.gather(*(s.open() for s in stores))  # replicas starting together create it once
        assert await stores[0].pool.fetchval("SELECT current_schema()") == schema
        account = await stores[1].create_account(name=None, credits=7)
        assert await stores[2].balance(account) == 7
        tables = await stores[0].pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
        assert {r["tablename"] for r in tables} >= {"accounts", "api_keys", "reservations", "usage", "meta"}
    finally:
        await asyncio.gather(*(s.close() for s in stores))
        services.run_sql(base, f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")


def test_first_schema_of_a_search_path() -> None:
    assert first_schema("tenant_a") == "tenant_a"
    assert first_schema(" Tenant_A , public") == "tenant_a"
    assert first_schema('"Tenant ""A"", x", public') == 'Tenant "A", x'
    assert first_schema('"$user", public') is None
    assert first_schema("$user, public") is None
    assert first_schema("") is None
