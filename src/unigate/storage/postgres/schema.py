"""The PostgreSQL schema: its migrations (``migrations/*.sql``) and the runner that applies them.

Everything lives in the first schema of the connection's ``search_path`` (``public`` unless the
database URL says ``?search_path=...``); the runner creates that schema when it does not exist
yet, so a fresh database with ``?search_path=tenant_a`` just works. The version is kept in
``schema_version``; the runner holds a transaction-scoped advisory lock (one per schema) while it
reads the version and applies the missing steps, so replicas that start together migrate once,
one after the other. Each step is one file sent as one script.

The hot path is server-side functions, so that a batch of reservations and settlements costs
one round trip and runs as one transaction: ``unigate_tick`` (migration 6), which calls
``unigate_settle_many`` and ``unigate_reserve_many`` account by account (the expiry sweep
``unigate_release_expired`` settles through the former too), as migration 5 defines them. Rows
are locked account before key (migration 4), with batches sorted by (account, key); a
settlement takes its reservation's row before its account's.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from unigate.storage.migrations import SchemaState, load, pending

__all__ = ["MIGRATIONS", "SchemaState", "ensure_schema", "first_schema", "inspect", "migrate", "quote_ident"]

MIGRATIONS: tuple[str, ...] = load(__package__ or __name__)
"""Each version's script, version 1 first."""


def first_schema(search_path: str) -> str | None:
    """The first schema a ``search_path`` value names, as PostgreSQL reads it: names separated by
    commas, double-quoted ones taken as they are (``""`` is a quote), unquoted ones lower-cased.
    ``None`` when it names none or starts with ``$user`` (the session user's schema, which the
    server skips when missing; it is not ours to create)."""
    text = search_path.strip()
    if text.startswith('"'):
        name, i = [], 1
        while i < len(text):
            if text[i] == '"':
                if text[i + 1 : i + 2] != '"':
                    break
                i += 1
            name.append(text[i])
            i += 1
        first = "".join(name)
    else:
        first = text.split(",", 1)[0].strip().lower()
    return None if first in ("", "$user") else first


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_schema(conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> str | None:
    """Create the first schema of the connection's ``search_path`` when it is missing; returns the
    name of the schema it created, or ``None``. Call it inside a transaction: a transaction-scoped
    advisory lock keeps replicas that start together from racing on the same ``CREATE SCHEMA``."""
    name = first_schema(await conn.fetchval("SELECT current_setting('search_path')"))
    if name is None or name.startswith("pg_"):  # pg_catalog, pg_temp: the server's own
        return None
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name):
        return None
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('unigate-create-schema:' || $1::text))", name)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(name)}")
    except asyncpg.InsufficientPrivilegeError as exc:
        raise RuntimeError(
            f"schema {name!r} (the first of the database URL's search_path) does not exist, and this database"
            f" user may not create it: create it, or grant CREATE on the database ({exc})"
        ) from exc
    return name


async def migrate(conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> int:
    """Create the ``search_path`` schema if missing, then apply the steps it lacks; returns its
    version afterwards."""
    async with conn.transaction():
        await ensure_schema(conn)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('unigate-migrate:' || current_schema()))")
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        for number, step in pending(MIGRATIONS, version):
            await conn.execute(step)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
    return len(MIGRATIONS)


async def inspect(conn: asyncpg.Connection[Any]) -> SchemaState | None:
    """What ``unigate doctor`` reports of a database, read without changing it; ``None`` when it
    has no unigate schema yet."""
    if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
        return None
    version = int(await conn.fetchval("SELECT COALESCE(max(version), 0) FROM schema_version"))
    managed = await conn.fetchval("SELECT 1 FROM meta WHERE k = 'management_key'") is not None
    return SchemaState(version=version, latest=len(MIGRATIONS), management_key_stored=managed)
