"""Reservations, settlements and the usage ledger on SQLite: the statements behind the credit
methods of ``SqliteStore`` (``store.py``). ``reserve`` and ``settle`` run inside a write
transaction that the store's group commit opens (``batch.py``); the usage rows are read here for
the store and for the console (``console.py``) alike."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from unigate.accounts.spending import period_start
from unigate.accounts.store import Refusal, Reservation, Settlement, UsageQuery, UsageRow
from unigate.primitives.ids import hex_id
from unigate.storage.sqlite.connection import write
from unigate.storage.sqlite.timestamps import iso, iso_at, now

__all__ = ["USAGE_ROWS", "extend_reservations", "release_expired", "reserve", "settle", "usage", "usage_row"]

USAGE_ROWS = (
    "SELECT u.id, u.created_at, u.account_id, u.key_id, COALESCE(k.prefix, ''), u.model, u.prompt_tokens,"
    " u.completion_tokens, u.credits, u.latency_ms, u.status FROM usage u LEFT JOIN api_keys k ON k.id = u.key_id"
)
"""The ledger's rows as ``usage_row`` reads them; the caller adds its ``WHERE``, order and limit."""


def usage_row(row: Sequence[Any]) -> UsageRow:
    return UsageRow(
        id=row[0],
        created_at=datetime.fromisoformat(row[1]),
        account_id=row[2],
        key_id=row[3],
        key_prefix=row[4],
        model=row[5],
        prompt_tokens=row[6],
        completion_tokens=row[7],
        credits=row[8],
        latency_ms=row[9],
        status=row[10],
    )


def reserve(db: sqlite3.Connection, key_id: int, amount: int, ttl_s: float, model: str) -> Reservation | Refusal:
    """Inside a write transaction: hold ``amount`` of the key's account balance (and of its
    spending limit), or say why not."""
    # Time-ordered, so that the reservation's index and the ledger's request_id index grow at their
    # right edge: a random id dirties a random page of each (one more page per settlement to write).
    rid = f"{time.time_ns():016x}{hex_id(4)}"
    at = time.time()
    row = db.execute(
        "SELECT account_id, disabled, deleted_at, limit_retention, limit_credits, period_start, period_spent"
        " FROM api_keys WHERE id = ?",
        (key_id,),
    ).fetchone()
    if row is None or row[1] or row[2] is not None:
        return Refusal.KEY_REVOKED
    account_id, _, _, retention, limit, stored_period, spent = row
    # A key without a spending limit keeps no spend count (``period`` None): one write less.
    period = None if limit is None else iso(period_start(retention, datetime.fromtimestamp(at, UTC)))
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
        (rid, account_id, key_id, amount, model, period, iso_at(at + ttl_s)),
    )
    return Reservation(rid, account_id, key_id, amount)


def settle(db: sqlite3.Connection, rid: str, s: Settlement) -> None:
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
            iso_at(time.time()),
        ),
    )


def extend_reservations(db: sqlite3.Connection, ids: Sequence[str], ttl_s: float) -> None:
    expires = iso(now() + timedelta(seconds=ttl_s))
    with write(db):
        db.executemany("UPDATE reservations SET expires_at = ? WHERE id = ?", [(expires, i) for i in ids])


def release_expired(db: sqlite3.Connection, at: datetime | None) -> int:
    with write(db):
        rows = db.execute("SELECT id, model FROM reservations WHERE expires_at < ?", (iso(at or now()),)).fetchall()
        for rid, model in rows:
            # The holder died mid-request: what it generated is unknown, so nothing is charged.
            settle(db, rid, Settlement(model, 0, 0, 0, 0, "abandoned"))
    return len(rows)


def usage(db: sqlite3.Connection, query: UsageQuery) -> list[UsageRow]:
    rows = db.execute(
        f"{USAGE_ROWS} WHERE (? IS NULL OR u.account_id = ?) AND (? IS NULL OR u.key_id = ?)"
        " AND (? IS NULL OR u.id < ?) ORDER BY u.id DESC LIMIT ?",
        (query.account_id, query.account_id, query.key_id, query.key_id, query.after, query.after, query.limit),
    ).fetchall()
    return [usage_row(r) for r in rows]
