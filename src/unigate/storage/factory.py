"""The store the settings ask for: PostgreSQL when the database URL says so, else SQLite."""

from __future__ import annotations

from unigate.accounts.store import Store
from unigate.settings import Settings

__all__ = ["store_for"]


def store_for(settings: Settings) -> Store:
    if settings.uses_postgres:
        # Imported here so that a gateway on SQLite never loads asyncpg.
        from unigate.storage.postgres.store import PostgresStore

        assert settings.database_url is not None
        return PostgresStore(settings.database_url, pool_size=settings.database_pool_size)
    from unigate.storage.sqlite.store import SqliteStore

    return SqliteStore(settings.sqlite_path())
