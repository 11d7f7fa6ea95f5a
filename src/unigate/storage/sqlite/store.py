"""The embedded SQLite store: the default, nothing to start.

Statements run directly on the event loop thread: in WAL mode with ``synchronous=NORMAL`` a short
write transaction costs tens of microseconds, less than a hop to a thread pool. Every write is a
``BEGIN IMMEDIATE`` transaction, so other processes on the same file (``unigate keys create``
while the server runs) serialise with it; ``busy_timeout`` makes them wait instead of failing.
Reservations and settlements, two per request, are group-committed: those of concurrent requests
share one transaction (``sqlite_batch.py``, which says how durability is kept).
``data_version`` tells the key cache when another process changed the file. WAL checkpoints
(and their ``fsync``) run in a thread, not in a commit on the loop (``sqlite_checkpoint.py``).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from unigate.accounts import keys
from unigate.accounts.spending import SpendingLimit, as_retention, period_start
from unigate.accounts.store import (
    UNSET,
    ApiKey,
    KeyChanges,
    KeySettings,
    Refusal,
    Reservation,
    Settlement,
    UsageQuery,
    UsageRow,
)
from unigate.primitives.ids import hex_id
from unigate.storage.sqlite.batch import GroupCommit
from unigate.storage.sqlite.checkpoint import Checkpointer
from unigate.storage.sqlite.schema import migrate

__all__ = ["SqliteStore"]

_KEY_COLUMNS = (
    "id, prefix, account_id, name, disabled, scopes, created_at, updated_at, limit_retention, limit_credits, rpm, tpm"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat(timespec="microseconds")


@lru_cache(maxsize=4)
def _second(posix_second: int) -> str:
    return datetime.fromtimestamp(posix_second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _iso_at(t: float) -> str:
    """``_iso`` of the POSIX time ``t`` without building a datetime: the part up to the second
    changes once a second, so it is cached (the two timestamps of every request cost a few
    microseconds through ``datetime``)."""
    second = int(t)
    micros = round((t - second) * 1_000_000)
    if micros == 1_000_000:
        second, micros = second + 1, 0
    return f"{_second(second)}.{micros:06d}+00:00"


class SqliteStore:
    failures: tuple[type[Exception], ...] = (sqlite3.Error, OSError)

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._batch = GroupCommit(lambda: self.db)
        self._checkpointer: Checkpointer | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db)
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in a thread (sqlite_checkpoint.py)
        self._checkpointer = Checkpointer(self._path)
        self._checkpointer.start()
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._batch.flush()  # settlements queued in this turn of the loop are not lost
            self._db.close()
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            self._db = None

    def change_counter(self) -> int:
        """Changes when another connection (another process) commits to the file; the key cache
        drops its entries then (``accounts/keycache.py``)."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    # ---- keys --------------------------------------------------------------------------------

    async def authenticate(self, key: str) -> ApiKey | None:
        row = self.db.execute(
            f"SELECT {_KEY_COLUMNS}, digest FROM api_keys WHERE prefix = ? AND deleted_at IS NULL",
            (keys.prefix_of(key),),
        ).fetchone()
        if row is None or not keys.matches(key, row[-1]) or row[4]:
            return None
        return _key(row)

    async def check_management_key(self, key: str) -> bool:
        row = self.db.execute("SELECT v FROM meta WHERE k = 'management_key'").fetchone()
        return row is not None and keys.matches(key, row[0])

    async def ensure_management_key(self, key: str | None) -> str | None:
        with _write(self.db):
            if key is not None:
                self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('management_key', ?)", (keys.digest(key),))
                return None
            if self.db.execute("SELECT v FROM meta WHERE k = 'management_key'").fetchone() is not None:
                return None
            generated = keys.new_management_key()
            self.db.execute("INSERT INTO meta (k, v) VALUES ('management_key', ?)", (keys.digest(generated),))
            return generated

    async def create_account(self, *, name: str | None, credits: int) -> int:
        if credits < 0:
            raise ValueError("an account cannot start with a negative balance")
        with _write(self.db):
            cur = self.db.execute(
                "INSERT INTO accounts (name, balance, created_at) VALUES (?, ?, ?)", (name, credits, _iso(_now()))
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def create_key(
        self, *, account_id: int, name: str | None, key: str | None = None, settings: KeySettings | None = None
    ) -> tuple[ApiKey, str]:
        s = settings or KeySettings()
        now = _iso(_now())
        if self.db.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
            raise LookupError(f"no account {account_id}")
        for _ in range(8):
            plain = key or keys.new_key()
            try:
                with _write(self.db):
                    cur = self.db.execute(
                        "INSERT INTO api_keys (prefix, digest, account_id, name, scopes, limit_retention,"
                        " limit_credits, rpm, tpm, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            keys.prefix_of(plain),
                            keys.digest(plain),
                            account_id,
                            name,
                            json.dumps(list(s.scopes)),
                            s.limit.retention if s.limit else None,
                            s.limit.threshold if s.limit else None,
                            s.rpm,
                            s.tpm,
                            now,
                            now,
                        ),
                    )
            except sqlite3.IntegrityError:
                if key is not None:
                    raise ValueError("a key with this prefix exists already") from None
                continue  # a prefix collision of a generated key: draw again
            row = self.db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (cur.lastrowid,)).fetchone()
            return _key(row), plain
        raise RuntimeError("could not draw a unique key prefix")

    async def get_key(self, prefix: str) -> ApiKey | None:
        row = self.db.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = ? AND deleted_at IS NULL", (prefix,)
        ).fetchone()
        return None if row is None else _key(row)

    async def list_keys(self, *, account_id: int | None = None) -> list[ApiKey]:
        rows = self.db.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE deleted_at IS NULL AND (? IS NULL OR account_id = ?)"
            " ORDER BY id",
            (account_id, account_id),
        ).fetchall()
        return [_key(row) for row in rows]

    async def update_key(self, prefix: str, changes: KeyChanges) -> ApiKey | None:
        sets: list[str] = []
        args: list[object] = []
        if changes.name is not UNSET:
            sets.append("name = ?")
            args.append(changes.name)
        if changes.disabled is not UNSET:
            sets.append("disabled = ?")
            args.append(int(changes.disabled))
        if changes.scopes is not UNSET:
            sets.append("scopes = ?")
            args.append(json.dumps(list(changes.scopes)))
        if changes.limit is not UNSET:
            sets += ["limit_retention = ?", "limit_credits = ?"]
            args += [changes.limit.retention, changes.limit.threshold] if changes.limit else [None, None]
        if changes.rpm is not UNSET:
            sets.append("rpm = ?")
            args.append(changes.rpm)
        if changes.tpm is not UNSET:
            sets.append("tpm = ?")
            args.append(changes.tpm)
        now = _now()
        with _write(self.db):
            row = self.db.execute(
                "SELECT id, limit_retention FROM api_keys WHERE prefix = ? AND deleted_at IS NULL", (prefix,)
            ).fetchone()
            if row is None:
                return None
            key_id, old_retention = row
            self.db.execute(
                f"UPDATE api_keys SET {', '.join([*sets, 'updated_at = ?'])} WHERE id = ?", (*args, _iso(now), key_id)
            )
            # A new limit, or a new period: count the spend afresh (a key without a limit has none).
            if isinstance(changes.limit, SpendingLimit) and changes.limit.retention != old_retention:
                self._recount_period(key_id, changes.limit.retention, now)
        return await self.get_key(prefix)

    def _recount_period(self, key_id: int, retention: str | None, now: datetime) -> None:
        """After a change of retention, the spend of the new period from the ledger, plus the
        reservations in flight, which now belong to the new period."""
        start = _iso(period_start(retention, now))
        spent = self.db.execute(
            "SELECT COALESCE(SUM(credits), 0) FROM usage WHERE key_id = ? AND created_at >= ?", (key_id, start)
        ).fetchone()[0]
        held = self.db.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE key_id = ?", (key_id,)
        ).fetchone()[0]
        self.db.execute("UPDATE reservations SET period_start = ? WHERE key_id = ?", (start, key_id))
        self.db.execute(
            "UPDATE api_keys SET period_start = ?, period_spent = ? WHERE id = ?", (start, spent + held, key_id)
        )

    async def delete_key(self, prefix: str) -> bool:
        now = _iso(_now())
        with _write(self.db):
            cur = self.db.execute(
                "UPDATE api_keys SET deleted_at = ?, disabled = 1, updated_at = ?"
                " WHERE prefix = ? AND deleted_at IS NULL",
                (now, now, prefix),
            )
        return cur.rowcount == 1

    async def monthly_usage(self, key_ids: Sequence[int]) -> dict[int, int]:
        if not key_ids:
            return {}
        start = _iso(period_start("month", _now()))
        marks = ", ".join("?" * len(key_ids))
        rows = self.db.execute(
            f"SELECT key_id, SUM(credits) FROM usage WHERE key_id IN ({marks}) AND created_at >= ? GROUP BY key_id",
            (*key_ids, start),
        ).fetchall()
        spent = {int(k): int(c) for k, c in rows}
        return {k: spent.get(k, 0) for k in key_ids}

    # ---- credits -----------------------------------------------------------------------------

    async def balance(self, account_id: int) -> int:
        row = self.db.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            raise LookupError(f"no account {account_id}")
        return int(row[0])

    async def add_credits(self, account_id: int, credits: int) -> int:
        try:
            with _write(self.db):
                cur = self.db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (credits, account_id))
                if cur.rowcount != 1:
                    raise LookupError(f"no account {account_id}")
        except sqlite3.IntegrityError:
            raise ValueError("the balance cannot fall below zero") from None
        return await self.balance(account_id)

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float, model: str = "") -> Reservation | Refusal:
        def run(db: sqlite3.Connection) -> Reservation | Refusal:
            return _reserve(db, key.id, amount, ttl_s, model)

        queued = self._batch.submit(run, skip_if_abandoned=True)
        try:
            outcome: Reservation | Refusal = await queued
        except asyncio.CancelledError:
            # The caller left after its reservation was committed but before it saw it: release it
            # now rather than at the expiry sweep.
            held = queued.result() if queued.done() and not queued.cancelled() else None
            if isinstance(held, Reservation):
                release = Settlement(model, 0, 0, 0, 0, "cancelled")
                self._batch.submit(lambda db: _settle(db, held.id, release))
            raise
        return outcome

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        # Not skipped if the caller is cancelled while it waits: a settlement always happens.
        await self._batch.submit(lambda db: _settle(db, reservation.id, settlement))

    async def extend_reservations(self, ids: Sequence[str], ttl_s: float) -> None:
        if not ids:
            return
        expires = _iso(_now() + timedelta(seconds=ttl_s))
        with _write(self.db):
            self.db.executemany("UPDATE reservations SET expires_at = ? WHERE id = ?", [(expires, i) for i in ids])

    async def release_expired(self, now: datetime | None = None) -> int:
        with _write(self.db):
            rows = self.db.execute(
                "SELECT id, model FROM reservations WHERE expires_at < ?", (_iso(now or _now()),)
            ).fetchall()
            for rid, model in rows:
                # The holder died mid-request: what it generated is unknown, so nothing is charged.
                _settle(self.db, rid, Settlement(model, 0, 0, 0, 0, "abandoned"))
        return len(rows)

    async def usage(self, query: UsageQuery) -> list[UsageRow]:
        rows = self.db.execute(
            "SELECT u.id, u.created_at, u.account_id, u.key_id, COALESCE(k.prefix, ''), u.model, u.prompt_tokens,"
            " u.completion_tokens, u.credits, u.latency_ms, u.status"
            " FROM usage u LEFT JOIN api_keys k ON k.id = u.key_id"
            " WHERE (? IS NULL OR u.account_id = ?) AND (? IS NULL OR u.key_id = ?) AND (? IS NULL OR u.id < ?)"
            " ORDER BY u.id DESC LIMIT ?",
            (
                query.account_id,
                query.account_id,
                query.key_id,
                query.key_id,
                query.after,
                query.after,
                query.limit,
            ),
        ).fetchall()
        return [
            UsageRow(
                id=r[0],
                created_at=datetime.fromisoformat(r[1]),
                account_id=r[2],
                key_id=r[3],
                key_prefix=r[4],
                model=r[5],
                prompt_tokens=r[6],
                completion_tokens=r[7],
                credits=r[8],
                latency_ms=r[9],
                status=r[10],
            )
            for r in rows
        ]


def _reserve(db: sqlite3.Connection, key_id: int, amount: int, ttl_s: float, model: str) -> Reservation | Refusal:
    """Inside a write transaction: hold ``amount`` of the key's account balance (and of its
    spending limit), or say why not."""
    # Time-ordered, so that the reservation's index and the ledger's request_id index grow at their
    # right edge: a random id dirties a random page of each (one more page per settlement to write).
    rid = f"{time.time_ns():016x}{hex_id(4)}"
    now = time.time()
    row = db.execute(
        "SELECT account_id, disabled, deleted_at, limit_retention, limit_credits, period_start, period_spent"
        " FROM api_keys WHERE id = ?",
        (key_id,),
    ).fetchone()
    if row is None or row[1] or row[2] is not None:
        return Refusal.KEY_REVOKED
    account_id, _, _, retention, limit, stored_period, spent = row
    # A key without a spending limit keeps no spend count (``period`` None): one write less.
    period = None if limit is None else _iso(period_start(retention, datetime.fromtimestamp(now, UTC)))
    spent = spent if stored_period == period else 0
    if limit is not None and spent + amount > limit:
        return Refusal.KEY_LIMIT
    cur = db.execute(
        "UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?", (amount, account_id, amount)
    )
    if cur.rowcount != 1:
        return Refusal.BALANCE
    if period is not None:
        db.execute(
            "UPDATE api_keys SET period_start = ?, period_spent = ? WHERE id = ?", (period, spent + amount, key_id)
        )
    db.execute(
        "INSERT INTO reservations (id, account_id, key_id, amount, model, period_start, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (rid, account_id, key_id, amount, model, period, _iso_at(now + ttl_s)),
    )
    return Reservation(rid, account_id, key_id, amount)


def _settle(db: sqlite3.Connection, rid: str, s: Settlement) -> None:
    """Inside a write transaction. The reservation row is the token that makes settlement happen
    once: whoever deletes it (the request, or the expiry sweep) writes the usage row; a second
    attempt finds nothing."""
    row = db.execute("DELETE FROM reservations WHERE id = ? RETURNING account_id, key_id, amount, period_start", (rid,))
    found = row.fetchone()
    if found is None:
        return
    account_id, key_id, amount, period = found
    # Settlement never takes more than was reserved: the reservation is the worst case.
    charged = max(0, min(s.credits, amount))
    refund = amount - charged
    db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (refund, account_id))
    # The key's period spend counted the reservation; it keeps only what was charged, unless the
    # period has turned since (the charge then stays with the period the request started in).
    if period is not None:
        db.execute(
            "UPDATE api_keys SET period_spent = period_spent - ? WHERE id = ? AND period_start = ?",
            (refund, key_id, period),
        )
    db.execute(
        "INSERT INTO usage (request_id, account_id, key_id, model, prompt_tokens, completion_tokens, credits,"
        " latency_ms, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rid,
            account_id,
            key_id,
            s.model,
            s.prompt_tokens,
            s.completion_tokens,
            charged,
            s.latency_ms,
            s.status,
            _iso_at(time.time()),
        ),
    )


@contextmanager
def _write(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _key(row: Sequence[object]) -> ApiKey:
    retention, limit = row[8], row[9]
    return ApiKey(
        id=int(str(row[0])),
        prefix=str(row[1]),
        account_id=int(str(row[2])),
        name=None if row[3] is None else str(row[3]),
        disabled=bool(row[4]),
        scopes=tuple(json.loads(str(row[5]))),
        created_at=datetime.fromisoformat(str(row[6])),
        updated_at=datetime.fromisoformat(str(row[7])),
        limit=None if limit is None else SpendingLimit(as_retention(retention), int(str(limit))),
        rpm=None if row[10] is None else int(str(row[10])),
        tpm=None if row[11] is None else int(str(row[11])),
    )
