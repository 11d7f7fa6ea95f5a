"""Accounts, their keys and the management key on SQLite: the statements behind the key and
credit methods of ``SqliteStore`` (``store.py``), each run on the store's connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from unigate.accounts import keys
from unigate.accounts.reports import CreditKind
from unigate.accounts.spending import SpendingLimit, as_retention, period_start
from unigate.accounts.store import UNSET, ApiKey, KeyChanges, KeySettings
from unigate.storage.sqlite.connection import write
from unigate.storage.sqlite.timestamps import iso, now

__all__ = [
    "add_credits",
    "authenticate",
    "balance",
    "check_management_key",
    "create_account",
    "create_key",
    "delete_key",
    "ensure_management_key",
    "get_key",
    "list_keys",
    "monthly_usage",
    "update_key",
]

_KEY_COLUMNS = (
    "id, prefix, account_id, name, disabled, scopes, created_at, updated_at, limit_retention, limit_credits, rpm, tpm"
)


def authenticate(db: sqlite3.Connection, key: str) -> ApiKey | None:
    row = db.execute(
        f"SELECT {_KEY_COLUMNS}, digest FROM api_keys WHERE prefix = ? AND deleted_at IS NULL", (keys.prefix_of(key),)
    ).fetchone()
    if row is None or not keys.matches(key, row[-1]) or row[4]:
        return None
    return _key(row)


def check_management_key(db: sqlite3.Connection, key: str) -> bool:
    row = db.execute("SELECT v FROM meta WHERE k = 'management_key'").fetchone()
    return row is not None and keys.matches(key, row[0])


def ensure_management_key(db: sqlite3.Connection, key: str | None) -> str | None:
    with write(db):
        if key is not None:
            db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('management_key', ?)", (keys.digest(key),))
            return None
        if db.execute("SELECT v FROM meta WHERE k = 'management_key'").fetchone() is not None:
            return None
        generated = keys.new_management_key()
        db.execute("INSERT INTO meta (k, v) VALUES ('management_key', ?)", (keys.digest(generated),))
        return generated


def create_account(db: sqlite3.Connection, *, name: str | None, credits: int) -> int:
    if credits < 0:
        raise ValueError("an account cannot start with a negative balance")
    created = iso(now())
    with write(db):
        cur = db.execute("INSERT INTO accounts (name, balance, created_at) VALUES (?, ?, ?)", (name, credits, created))
        assert cur.lastrowid is not None
        if credits:
            _entry(db, cur.lastrowid, "INIT", credits, None, created)
    return cur.lastrowid


def _entry(db: sqlite3.Connection, account_id: int, kind: str, credits: int, reference: str | None, at: str) -> None:
    """The credit entry of a change of balance that is not a request (``accounts/reports.py``)."""
    db.execute(
        "INSERT INTO credit_entries (account_id, kind, credits, reference, created_at) VALUES (?, ?, ?, ?, ?)",
        (account_id, kind, credits, reference, at),
    )


def create_key(
    db: sqlite3.Connection, *, account_id: int, name: str | None, key: str | None, settings: KeySettings | None
) -> tuple[ApiKey, str]:
    s = settings or KeySettings()
    created = iso(now())
    if db.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
        raise LookupError(f"no account {account_id}")
    for _ in range(8):
        plain = key or keys.new_key()
        try:
            with write(db):
                cur = db.execute(
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
                        created,
                        created,
                    ),
                )
        except sqlite3.IntegrityError:
            if key is not None:
                raise ValueError("a key with this prefix exists already") from None
            continue  # a prefix collision of a generated key: draw again
        row = db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _key(row), plain
    raise RuntimeError("could not draw a unique key prefix")


def get_key(db: sqlite3.Connection, prefix: str) -> ApiKey | None:
    row = db.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = ? AND deleted_at IS NULL", (prefix,)
    ).fetchone()
    return None if row is None else _key(row)


def list_keys(db: sqlite3.Connection, *, account_id: int | None) -> list[ApiKey]:
    rows = db.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE deleted_at IS NULL AND (? IS NULL OR account_id = ?) ORDER BY id",
        (account_id, account_id),
    ).fetchall()
    return [_key(row) for row in rows]


def update_key(db: sqlite3.Connection, prefix: str, changes: KeyChanges) -> ApiKey | None:
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
    at = now()
    with write(db):
        row = db.execute(
            "SELECT id, limit_retention FROM api_keys WHERE prefix = ? AND deleted_at IS NULL", (prefix,)
        ).fetchone()
        if row is None:
            return None
        key_id, old_retention = row
        db.execute(f"UPDATE api_keys SET {', '.join([*sets, 'updated_at = ?'])} WHERE id = ?", (*args, iso(at), key_id))
        # A new limit, or a new period: count the spend afresh (a key without a limit has none).
        if isinstance(changes.limit, SpendingLimit) and changes.limit.retention != old_retention:
            _recount_period(db, key_id, changes.limit.retention, at)
    return get_key(db, prefix)


def _recount_period(db: sqlite3.Connection, key_id: int, retention: str | None, at: datetime) -> None:
    """After a change of retention, the spend of the new period from the ledger, plus the
    reservations in flight, which now belong to the new period."""
    start = iso(period_start(retention, at))
    spent = db.execute(
        "SELECT COALESCE(SUM(credits), 0) FROM usage WHERE key_id = ? AND created_at >= ?", (key_id, start)
    ).fetchone()[0]
    held = db.execute("SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE key_id = ?", (key_id,)).fetchone()[0]
    db.execute("UPDATE reservations SET period_start = ? WHERE key_id = ?", (start, key_id))
    db.execute("UPDATE api_keys SET period_start = ?, period_spent = ? WHERE id = ?", (start, spent + held, key_id))


def delete_key(db: sqlite3.Connection, prefix: str) -> bool:
    at = iso(now())
    with write(db):
        cur = db.execute(
            "UPDATE api_keys SET deleted_at = ?, disabled = 1, updated_at = ? WHERE prefix = ? AND deleted_at IS NULL",
            (at, at, prefix),
        )
    return cur.rowcount == 1


def monthly_usage(db: sqlite3.Connection, key_ids: Sequence[int]) -> dict[int, int]:
    if not key_ids:
        return {}
    start = iso(period_start("month", now()))
    marks = ", ".join("?" * len(key_ids))
    rows = db.execute(
        f"SELECT key_id, SUM(credits) FROM usage WHERE key_id IN ({marks}) AND created_at >= ? GROUP BY key_id",
        (*key_ids, start),
    ).fetchall()
    spent = {int(k): int(c) for k, c in rows}
    return {k: spent.get(k, 0) for k in key_ids}


def balance(db: sqlite3.Connection, account_id: int) -> int:
    row = db.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if row is None:
        raise LookupError(f"no account {account_id}")
    return int(row[0])


def add_credits(
    db: sqlite3.Connection, account_id: int, credits: int, *, kind: CreditKind, reference: str | None
) -> int:
    try:
        with write(db):
            cur = db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (credits, account_id))
            if cur.rowcount != 1:
                raise LookupError(f"no account {account_id}")
            if credits:
                _entry(db, account_id, kind, credits, reference, iso(now()))
    except sqlite3.IntegrityError:
        raise ValueError("the balance cannot fall below zero") from None
    return balance(db, account_id)


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
