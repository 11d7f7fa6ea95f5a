"""The embedded SQLite store: the default, nothing to start.

Statements run directly on the event loop thread: in WAL mode with ``synchronous=NORMAL`` a short
write transaction costs tens of microseconds, less than a hop to a thread pool. Every write is a
``BEGIN IMMEDIATE`` transaction, so other processes on the same file (``unigate keys create``
while the server runs) serialise with it; ``busy_timeout`` makes them wait instead of failing.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from unigate.accounts import keys
from unigate.accounts.store import ApiKey, Reservation, Settlement

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    name TEXT,
    balance INTEGER NOT NULL CHECK (balance >= 0),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    scopes TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    key_id INTEGER NOT NULL REFERENCES api_keys(id),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
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
);
CREATE INDEX IF NOT EXISTS usage_key_time ON usage (key_id, created_at);
"""


def _now() -> datetime:
    return datetime.now(UTC)


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(_SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # ---- keys --------------------------------------------------------------------------------

    async def authenticate(self, key: str) -> ApiKey | None:
        row = self.db.execute(
            "SELECT id, prefix, account_id, name, disabled, scopes, created_at, updated_at, digest"
            " FROM api_keys WHERE prefix = ?",
            (keys.prefix_of(key),),
        ).fetchone()
        if row is None or not keys.matches(key, row[8]) or row[4]:
            return None
        return _key(row)

    async def check_management_key(self, key: str) -> bool:
        row = self.db.execute("SELECT v FROM meta WHERE k = 'management_key'").fetchone()
        return row is not None and keys.matches(key, row[0])

    async def ensure_management_key(self, key: str | None) -> str | None:
        stored = self.db.execute("SELECT v FROM meta WHERE k = 'management_key'").fetchone()
        if key is not None:
            self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('management_key', ?)", (keys.digest(key),))
            return None
        if stored is not None:
            return None
        generated = "mk-" + secrets.token_hex(24)
        self.db.execute("INSERT INTO meta (k, v) VALUES ('management_key', ?)", (keys.digest(generated),))
        return generated

    async def create_account(self, *, name: str | None, credits: int) -> int:
        cur = self.db.execute(
            "INSERT INTO accounts (name, balance, created_at) VALUES (?, ?, ?)",
            (name, credits, _now().isoformat()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def create_key(self, *, account_id: int, name: str | None, key: str | None = None) -> tuple[ApiKey, str]:
        now = _now().isoformat()
        for _ in range(8):
            plain = key or keys.new_key()
            try:
                cur = self.db.execute(
                    "INSERT INTO api_keys (prefix, digest, account_id, name, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (keys.prefix_of(plain), keys.digest(plain), account_id, name, now, now),
                )
            except sqlite3.IntegrityError:
                if key is not None:
                    raise ValueError("a key with this prefix exists already") from None
                continue  # a prefix collision of a generated key: draw again
            row = self.db.execute(
                "SELECT id, prefix, account_id, name, disabled, scopes, created_at, updated_at FROM api_keys"
                " WHERE id = ?",
                (cur.lastrowid,),
            ).fetchone()
            return _key(row), plain
        raise RuntimeError("could not draw a unique key prefix")

    # ---- credits -----------------------------------------------------------------------------

    async def balance(self, account_id: int) -> int:
        row = self.db.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            raise LookupError(f"no account {account_id}")
        return int(row[0])

    async def add_credits(self, account_id: int, credits: int) -> int:
        with _write(self.db):
            cur = self.db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (credits, account_id))
            if cur.rowcount != 1:
                raise LookupError(f"no account {account_id}")
        return await self.balance(account_id)

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float) -> Reservation | None:
        rid = secrets.token_hex(12)
        expires = (_now() + timedelta(seconds=ttl_s)).isoformat()
        with _write(self.db):
            cur = self.db.execute(
                "UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?",
                (amount, key.account_id, amount),
            )
            if cur.rowcount != 1:
                return None
            self.db.execute(
                "INSERT INTO reservations (id, account_id, key_id, amount, expires_at) VALUES (?, ?, ?, ?, ?)",
                (rid, key.account_id, key.id, amount, expires),
            )
        return Reservation(rid, key.account_id, key.id, amount)

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        _settle(self.db, reservation, settlement)

    async def release_expired(self, now: datetime | None = None) -> int:
        rows = self.db.execute(
            "SELECT id, account_id, key_id, amount FROM reservations WHERE expires_at < ?",
            ((now or _now()).isoformat(),),
        ).fetchall()
        for rid, account_id, key_id, amount in rows:
            # The holder died mid-request: what it generated is unknown, so nothing is charged.
            _settle(self.db, Reservation(rid, account_id, key_id, amount), Settlement("", 0, 0, 0, 0, "abandoned"))
        return len(rows)


def _settle(db: sqlite3.Connection, r: Reservation, s: Settlement) -> None:
    with _write(db):
        # The reservation row is the token that makes settlement happen once: whoever deletes it
        # (the request, or the expiry sweep) writes the usage row; a second attempt finds nothing.
        if db.execute("DELETE FROM reservations WHERE id = ?", (r.id,)).rowcount != 1:
            return
        # Settlement never takes more than was reserved: the reservation is the worst case.
        charged = min(s.credits, r.amount)
        db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (r.amount - charged, r.account_id))
        db.execute(
            "INSERT INTO usage (request_id, account_id, key_id, model, prompt_tokens, completion_tokens, credits,"
            " latency_ms, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.id,
                r.account_id,
                r.key_id,
                s.model,
                s.prompt_tokens,
                s.completion_tokens,
                charged,
                s.latency_ms,
                s.status,
                _now().isoformat(),
            ),
        )


class _write:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _key(row: tuple[object, ...]) -> ApiKey:
    return ApiKey(
        id=int(str(row[0])),
        prefix=str(row[1]),
        account_id=int(str(row[2])),
        name=None if row[3] is None else str(row[3]),
        disabled=bool(row[4]),
        scopes=tuple(json.loads(str(row[5]))),
        created_at=datetime.fromisoformat(str(row[6])),
        updated_at=datetime.fromisoformat(str(row[7])),
    )
