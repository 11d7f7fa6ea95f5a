"""The service's account reports (``Store.reports``), on SQLite and on PostgreSQL: the account's
ledger with its filters and positions, a key's spend and groups, its request rows, recent
latencies; and the credit entries that add, adjust and start balances."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.storage.conftest import scalar
from unigate.accounts.reports import KeyWindow, LogQuery, TransactionQuery, day_bounds
from unigate.accounts.store import ApiKey, Reservation, Settlement, Store
from unigate.storage.postgres.store import PostgresStore
from unigate.storage.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS
from unigate.storage.sqlite.store import SqliteStore


async def spend(store: Store, key: ApiKey, *, model: str, credits: int, status: str = "ok", tokens: int = 5) -> None:
    reservation = await store.reserve(key=key, amount=max(credits, 1), ttl_s=60, model=model)
    assert isinstance(reservation, Reservation)
    await store.settle(reservation, Settlement(model, credits, 10, tokens, 100 + credits, status))


async def set_times(store: Store, table: str, at: datetime) -> None:
    """Reach under the interface: date every row of ``table`` at ``at``."""
    if isinstance(store, SqliteStore):
        store.db.execute(f"UPDATE {table} SET created_at = ?", (at.isoformat(timespec="microseconds"),))
    else:
        assert isinstance(store, PostgresStore)
        await store.pool.execute(f"UPDATE {table} SET created_at = $1", at)


def window(key: ApiKey, hours: float = 1) -> KeyWindow:
    now = datetime.now(UTC)
    return KeyWindow(key.id, now - timedelta(hours=hours), now + timedelta(seconds=1))


async def test_the_ledger_lists_credit_entries_and_charges_newest_first(store: Store) -> None:
    account = await store.create_account(name="a", credits=1_000)
    key, _ = await store.create_key(account_id=account, name=None)
    await spend(store, key, model="m1", credits=100)
    await spend(store, key, model="m1", credits=0, status="error")  # moved nothing: not listed
    assert await store.add_credits(account, 500, kind="PAYMENT", reference="pay-1") == 1_400
    assert await store.add_credits(account, -50) == 1_350
    await store.add_credits(account, 0)  # moved nothing: no entry
    entries = await store.reports.transactions(TransactionQuery(account))
    assert [(t.kind, t.credits, t.direction, t.model, t.reference) for t in entries] == [
        ("ADJUSTMENT", -50, "CHARGE", None, None),
        ("PAYMENT", 500, "TOPUP", None, "pay-1"),
        ("MODEL_USAGE", -100, "CHARGE", "m1", entries[2].reference),
        ("INIT", 1_000, "TOPUP", None, None),
    ]
    assert entries[2].reference is not None
    # The entries add up to the balance.
    assert sum(t.credits for t in entries) == await store.balance(account)

    topups = await store.reports.transactions(TransactionQuery(account, direction="TOPUP"))
    assert [t.kind for t in topups] == ["PAYMENT", "INIT"]
    charges = await store.reports.transactions(TransactionQuery(account, direction="CHARGE"))
    assert [t.kind for t in charges] == ["ADJUSTMENT", "MODEL_USAGE"]
    usage = await store.reports.transactions(TransactionQuery(account, kind="MODEL_USAGE"))
    assert [t.model for t in usage] == ["m1"]
    assert await store.reports.transactions(TransactionQuery(account, kind="REFUND")) == []


async def test_the_ledger_pages_by_position_through_entries_of_one_instant(store: Store) -> None:
    account = await store.create_account(name="a", credits=10)
    key, _ = await store.create_key(account_id=account, name=None)
    for i in range(4):
        await store.add_credits(account, 1 + i, kind="BONUS")
        await spend(store, key, model=f"m{i}", credits=1 + i)
    # Every entry at one instant: only (source, id) orders them now.
    same = datetime(2026, 3, 1, 12, tzinfo=UTC)
    await set_times(store, "usage", same)
    await set_times(store, "credit_entries", same)
    everything = await store.reports.transactions(TransactionQuery(account, limit=100))
    assert len(everything) == 9
    seen, after = [], None
    while True:
        page = await store.reports.transactions(TransactionQuery(account, after=after, limit=2))
        seen += page
        if len(page) < 2:
            break
        after = page[-1].position
    assert seen == everything
    assert [t.position for t in everything] == sorted((t.position for t in everything), reverse=True)


async def test_the_ledger_window_and_another_accounts_rows(store: Store) -> None:
    mine = await store.create_account(name="a", credits=100)
    key, _ = await store.create_key(account_id=mine, name=None)
    other = await store.create_account(name="b", credits=100)
    their_key, _ = await store.create_key(account_id=other, name=None)
    await spend(store, key, model="mine", credits=10)
    await spend(store, their_key, model="theirs", credits=20)
    await store.add_credits(other, 7, kind="REFUND")
    assert {t.model for t in await store.reports.transactions(TransactionQuery(mine))} == {"mine", None}
    assert all(t.kind != "REFUND" for t in await store.reports.transactions(TransactionQuery(mine)))
    past = datetime(2025, 1, 1, tzinfo=UTC)
    await set_times(store, "usage", past)
    now = datetime.now(UTC)
    recent = await store.reports.transactions(TransactionQuery(mine, start=now - timedelta(hours=1)))
    assert [t.kind for t in recent] == ["INIT"]
    old = await store.reports.transactions(TransactionQuery(mine, end=now - timedelta(days=30)))
    assert [t.kind for t in old] == ["MODEL_USAGE"]
    exact = await store.reports.transactions(TransactionQuery(mine, start=past, end=past + timedelta(microseconds=1)))
    assert [t.kind for t in exact] == ["MODEL_USAGE"]
    assert await store.reports.transactions(TransactionQuery(mine, start=past + timedelta(microseconds=1))) != exact


async def test_a_keys_spend_per_model_and_charged_requests(store: Store) -> None:
    account = await store.create_account(name="a", credits=10_000)
    key, _ = await store.create_key(account_id=account, name=None)
    sibling, _ = await store.create_key(account_id=account, name=None)
    await spend(store, key, model="big", credits=300)
    await spend(store, key, model="small", credits=50)
    await spend(store, key, model="small", credits=50)
    await spend(store, key, model="small", credits=0, status="error")
    await spend(store, key, model="free", credits=0)  # successful at price zero: charged
    await spend(store, key, model="broken", credits=0, status="error")  # never charged: left out
    await spend(store, key, model="gone", credits=7, status="cancelled")  # billed its prompt: charged
    await spend(store, sibling, model="big", credits=1_000)  # another key of the same account
    whole, models = await store.reports.key_spend(window(key))
    assert (whole.credits, whole.requests) == (407, 5)
    assert [(m.model, m.credits, m.requests) for m in models] == [
        ("big", 300, 1),
        ("small", 100, 2),
        ("gone", 7, 1),
        ("free", 0, 1),
    ]
    await set_times(store, "usage", datetime(2025, 1, 1, tzinfo=UTC))
    whole, models = await store.reports.key_spend(window(key))
    assert (whole.credits, whole.requests, models) == (0, 0, [])


async def test_groups_by_day_in_a_time_zone_and_by_model(store: Store) -> None:
    account = await store.create_account(name="a", credits=10_000)
    key, _ = await store.create_key(account_id=account, name=None)
    await spend(store, key, model="a", credits=10, tokens=3)
    await spend(store, key, model="b", credits=20, tokens=4, status="error")
    # 2026-03-01 23:30 UTC is already 2026-03-02 in Berlin (UTC+1) but not in New York.
    await set_times(store, "usage", datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    await spend(store, key, model="a", credits=40, tokens=6)
    await set_times_after(store, datetime(2026, 3, 2, 12, tzinfo=UTC))
    w = KeyWindow(key.id, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    by_model = await store.reports.usage_groups(w, "model", "UTC")
    assert [(g.day, g.model, g.credits, g.total, g.charged, g.succeeded) for g in by_model] == [
        (None, "a", 50, 2, 2, 2),
        (None, "b", 20, 1, 1, 0),
    ]
    assert (by_model[0].prompt_tokens, by_model[0].completion_tokens) == (20, 9)
    utc = await store.reports.usage_groups(w, "day", "UTC")
    assert [(g.day, g.credits, g.total) for g in utc] == [("2026-03-01", 30, 2), ("2026-03-02", 40, 1)]
    berlin = await store.reports.usage_groups(w, "day", "Europe/Berlin")
    assert [(g.day, g.credits, g.total) for g in berlin] == [("2026-03-02", 70, 3)]
    both = await store.reports.usage_groups(w, "day,model", "America/New_York")
    assert [(g.day, g.model, g.credits) for g in both] == [
        ("2026-03-01", "b", 20),
        ("2026-03-01", "a", 10),
        ("2026-03-02", "a", 40),
    ]


async def set_times_after(store: Store, at: datetime) -> None:
    """Date the newest usage row at ``at``."""
    if isinstance(store, SqliteStore):
        store.db.execute(
            "UPDATE usage SET created_at = ? WHERE id = (SELECT MAX(id) FROM usage)",
            (at.isoformat(timespec="microseconds"),),
        )
    else:
        assert isinstance(store, PostgresStore)
        await store.pool.execute("UPDATE usage SET created_at = $1 WHERE id = (SELECT MAX(id) FROM usage)", at)


async def test_request_rows_filter_and_page(store: Store) -> None:
    account = await store.create_account(name="a", credits=10_000)
    key, _ = await store.create_key(account_id=account, name=None)
    other, _ = await store.create_key(account_id=account, name=None)
    for i in range(5):
        await spend(store, key, model="a" if i % 2 else "b", credits=10 + i, status="ok" if i != 3 else "error")
    await spend(store, other, model="a", credits=99)
    rows, total = await store.reports.request_log(LogQuery(window(key)))
    assert total == 5
    assert [r.credits for r in rows] == [14, 13, 12, 11, 10]  # newest first
    assert rows[1].status == "error"
    assert len({r.request_id for r in rows}) == 5
    page, total = await store.reports.request_log(LogQuery(window(key), limit=2, offset=2))
    assert ([r.credits for r in page], total) == ([12, 11], 5)
    only_a, total = await store.reports.request_log(LogQuery(window(key), models=("a", "nothing")))
    assert ([r.credits for r in only_a], total) == ([13, 11], 2)
    failed, total = await store.reports.request_log(LogQuery(window(key), succeeded=False))
    assert ([r.credits for r in failed], total) == ([13], 1)
    ok, total = await store.reports.request_log(LogQuery(window(key), succeeded=True, models=("a",)))
    assert ([r.credits for r in ok], total) == ([11], 1)


async def test_latency_samples_are_recent_successes_of_every_account(store: Store) -> None:
    account = await store.create_account(name="a", credits=10_000)
    key, _ = await store.create_key(account_id=account, name=None)
    await spend(store, key, model="old", credits=1)
    await set_times(store, "usage", datetime(2025, 1, 1, tzinfo=UTC))
    another = await store.create_account(name="b", credits=10_000)
    their, _ = await store.create_key(account_id=another, name=None)
    await spend(store, key, model="m", credits=2)
    await spend(store, their, model="m", credits=3, tokens=50)
    await spend(store, key, model="m", credits=4, status="error")
    since = datetime.now(UTC) - timedelta(minutes=5)
    samples = await store.reports.latency_samples(since, 100)
    assert [(s.model, s.latency_ms, s.completion_tokens) for s in samples] == [("m", 103, 50), ("m", 102, 5)]
    assert [s.latency_ms for s in await store.reports.latency_samples(since, 2)] == [103]  # newest 2 rows only


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "Asia/Kathmandu", "America/New_York"])
def test_day_bounds_cover_the_window_in_the_zone(tz: str) -> None:
    start, end = datetime(2026, 3, 7, 15, tzinfo=UTC), datetime(2026, 3, 10, 2, tzinfo=UTC)
    days = day_bounds(start, end, tz)
    assert days[0][1] <= start < days[0][2]
    assert days[-1][1] < end <= days[-1][2]
    assert all(a[2] == b[1] for a, b in itertools.pairwise(days))


async def test_credit_entries_count_in_scalar_sql(store: Store) -> None:
    account = await store.create_account(name="a", credits=0)
    assert await scalar(store, f"SELECT COUNT(*) FROM credit_entries WHERE account_id = {account}") == 0
    await store.add_credits(account, 5)
    assert await scalar(store, f"SELECT COUNT(*) FROM credit_entries WHERE account_id = {account}") == 1
    with pytest.raises(ValueError, match="below zero"):
        await store.add_credits(account, -6)
    assert await scalar(store, f"SELECT COUNT(*) FROM credit_entries WHERE account_id = {account}") == 1


async def test_accounts_from_before_the_entries_get_one_init_entry(tmp_path: Path) -> None:
    """The migration that brings credit entries gives each existing account the credits that came
    in (its balance, what the ledger charged, what is reserved), so that its ledger adds up."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for version, step in enumerate(SQLITE_MIGRATIONS[:4], start=1):
            for statement in step:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")
        db.execute("INSERT INTO accounts (id, name, balance, created_at) VALUES (1, 'old', 500, ?)", (OLD,))
        db.execute("INSERT INTO accounts (id, name, balance, created_at) VALUES (2, 'empty', 0, ?)", (OLD,))
        db.execute(
            "INSERT INTO api_keys (id, prefix, digest, account_id, created_at, updated_at)"
            " VALUES (1, 'p', 'd', 1, ?, ?)",
            (OLD, OLD),
        )
        db.execute(
            "INSERT INTO usage (request_id, account_id, key_id, model, prompt_tokens, completion_tokens, credits,"
            " latency_ms, status, created_at) VALUES ('r1', 1, 1, 'm', 1, 1, 70, 1, 'ok', ?)",
            (LATER,),
        )
        db.execute(
            "INSERT INTO reservations (id, account_id, key_id, amount, expires_at) VALUES ('r2', 1, 1, 30, ?)", (OLD,)
        )
    store = SqliteStore(path)
    await store.open()
    try:
        entries = await store.reports.transactions(TransactionQuery(1))
        assert [(t.kind, t.credits) for t in entries] == [("MODEL_USAGE", -70), ("INIT", 600)]
        assert entries[1].position.at == datetime.fromisoformat(OLD)
        assert await store.reports.transactions(TransactionQuery(2)) == []
    finally:
        await store.close()


OLD = "2025-01-01T00:00:00.000000+00:00"
LATER = "2025-01-02T00:00:00.000000+00:00"
