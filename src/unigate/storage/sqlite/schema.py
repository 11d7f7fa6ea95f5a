"""The SQLite schema as ordered migrations, and the runner that applies them.

The schema version is SQLite's own ``PRAGMA user_version``; each step runs in one ``BEGIN
IMMEDIATE`` transaction with the version bump, so a process that starts while another migrates
waits for it (``busy_timeout``) and then finds nothing left to do. Steps are append-only: a
released step is never edited, a change is a new step.

Times are ISO 8601 text in UTC with microseconds (``...T12:00:00.000000+00:00``), which sorts as
it should.
"""

from __future__ import annotations

import sqlite3

__all__ = ["MIGRATIONS", "migrate"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first schema (``IF NOT EXISTS``: databases made before versioning already have it).
    (
        "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS accounts (
            id INTEGER PRIMARY KEY,
            name TEXT,
            balance INTEGER NOT NULL CHECK (balance >= 0),
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS api_keys (
            id INTEGER PRIMARY KEY,
            prefix TEXT NOT NULL UNIQUE,
            digest TEXT NOT NULL UNIQUE,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            name TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            scopes TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS reservations (
            id TEXT PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            key_id INTEGER NOT NULL REFERENCES api_keys(id),
            amount INTEGER NOT NULL CHECK (amount >= 0),
            expires_at TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS usage (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE,
            account_id INTEGER NOT NULL,
            key_id INTEGER NOT NULL,
            model TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            credits INTEGER NOT NULL,
            latency_ms INTEGER NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS usage_key_time ON usage (key_id, created_at)",
    ),
    # 2: key settings (spending limit, rate limits), deletion, the per-period spend counter. No
    # more indexes than lookups need: each one is a page written per request (reservations are
    # few, the expiry sweep scans them; ledger queries by account walk the ids backwards).
    (
        "ALTER TABLE api_keys ADD COLUMN limit_retention TEXT",
        "ALTER TABLE api_keys ADD COLUMN limit_credits INTEGER",
        "ALTER TABLE api_keys ADD COLUMN rpm INTEGER",
        "ALTER TABLE api_keys ADD COLUMN tpm INTEGER",
        "ALTER TABLE api_keys ADD COLUMN period_start TEXT NOT NULL DEFAULT '1970-01-01T00:00:00.000000+00:00'",
        "ALTER TABLE api_keys ADD COLUMN period_spent INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE api_keys ADD COLUMN deleted_at TEXT",
        "ALTER TABLE reservations ADD COLUMN model TEXT NOT NULL DEFAULT ''",
        # The period of the key's spend that the reservation was counted in; NULL: not counted
        # (a key without a spending limit keeps no count, which spares a write per request).
        "ALTER TABLE reservations ADD COLUMN period_start TEXT",
    ),
    # 3: web console sessions (console/session_store.py). ``id`` is the SHA-256 of the cookie,
    # never the cookie; ``credential`` the digest of the key signed in with, so that a session
    # ends with its key (disabled, deleted, or a new management key).
    (
        """CREATE TABLE console_sessions (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            key_prefix TEXT,
            credential TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
    ),
)


def migrate(db: sqlite3.Connection) -> int:
    """Apply the steps this database lacks; returns its version afterwards."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise RuntimeError(f"the database has schema version {version}, newer than this unigate knows")
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in step:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return len(MIGRATIONS)
