"""The store the settings ask for: PostgreSQL when the database URL says so, else SQLite; and the
job rows and stored responses in its database."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import redis.asyncio as aioredis

from unigate.accounts.store import Store
from unigate.core.jobs import JobStore
from unigate.core.response_cache import ResponseCache
from unigate.core.responses import ResponseStore
from unigate.settings import Settings

__all__ = ["KeepsJobs", "KeepsResponses", "job_store", "response_cache", "response_store", "store_for"]


def store_for(settings: Settings) -> Store:
    if settings.uses_postgres:
        # Imported here so that a gateway on SQLite never loads asyncpg.
        from unigate.storage.postgres.store import PostgresStore

        assert settings.database_url is not None
        return PostgresStore(settings.database_url, pool_size=settings.database_pool_size)
    from unigate.storage.sqlite.store import SqliteStore

    return SqliteStore(settings.sqlite_path())


@runtime_checkable
class KeepsJobs(Protocol):
    """A store whose database also holds the generation jobs (both of ours do). Declared here, not
    on ``Store``: the accounts layer knows nothing of ``core``'s jobs."""

    @property
    def jobs(self) -> JobStore: ...


def job_store(store: Store) -> JobStore:
    """The generation jobs kept in ``store``'s database; it raises ``store.failures`` like the
    store's other methods, and answers once the store is open."""
    if not isinstance(store, KeepsJobs):
        raise TypeError(f"{type(store).__name__} keeps no generation jobs")
    return store.jobs


@runtime_checkable
class KeepsResponses(Protocol):
    """A store whose database also holds the Responses API's stored responses (both of ours)."""

    @property
    def responses(self) -> ResponseStore: ...


def response_store(store: Store) -> ResponseStore:
    """The stored responses kept in ``store``'s database (as ``job_store``)."""
    if not isinstance(store, KeepsResponses):
        raise TypeError(f"{type(store).__name__} keeps no stored responses")
    return store.responses


def response_cache(settings: Settings, store: Store, redis: aioredis.Redis | None) -> ResponseCache:
    """Where the response cache keeps its entries: Redis when the gateway has it (``redis``, the
    rate limiter's client), else the store's database."""
    cache = settings.cache
    if redis is not None:
        from unigate.storage.redis_cache import RedisResponseCache

        return RedisResponseCache(redis, prefix=settings.redis_prefix, max_ttl_s=cache.max_ttl_s)
    if settings.uses_postgres:
        from unigate.storage.postgres.cache import PostgresResponseCache
        from unigate.storage.postgres.store import PostgresStore

        if not isinstance(store, PostgresStore):
            raise TypeError(f"{type(store).__name__} keeps no response cache")
        return PostgresResponseCache(lambda: store.pool, max_entries=cache.max_entries)
    from unigate.storage.sqlite.cache import SqliteResponseCache
    from unigate.storage.sqlite.store import SqliteStore

    if not isinstance(store, SqliteStore):
        raise TypeError(f"{type(store).__name__} keeps no response cache")
    return SqliteResponseCache(lambda: store.db, max_entries=cache.max_entries)
