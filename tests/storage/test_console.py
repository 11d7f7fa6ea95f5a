"""The console's views of each store (``Store.console``), on SQLite and on PostgreSQL: sessions
that end with their key or their time, and the ledger's aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from unigate.accounts import keys
from unigate.accounts.console_views import UsageFilter, percentile
from unigate.accounts.store import Reservation, Settlement, Store


async def test_sessions_live_while_their_key_does(store: Store) -> None:
    db = store.console
    await store.ensure_management_key("mk-one")
    token, session = await db.create_session(
        kind="management", key_prefix=None, credential=keys.digest("mk-one"), ttl_s=60
    )
    found = await db.session(token)
    assert found is not None
    assert (found.kind, found.csrf, found.id) == ("management", session.csrf, session.id)
    assert await db.session(token + "x") is None
    await store.ensure_management_key("mk-two")
    assert await db.session(token) is None

    account = await store.create_account(name=None, credits=0)
    key, plain = await store.create_key(account_id=account, name=None)
    token, _ = await db.create_session(kind="key", key_prefix=key.prefix, credential=keys.digest(plain), ttl_s=60)
    assert await db.session(token) is not None
    forged, _ = await db.create_session(kind="key", key_prefix=key.prefix, credential=keys.digest("x"), ttl_s=60)
    assert await db.session(forged) is None
    await store.delete_key(key.prefix)
    assert await db.session(token) is None


async def test_sessions_expire_and_are_deleted(store: Store) -> None:
    db = store.console
    await store.ensure_management_key("mk-one")
    credential = keys.digest("mk-one")
    old, _ = await db.create_session(kind="management", key_prefix=None, credential=credential, ttl_s=-1)
    live, _ = await db.create_session(kind="management", key_prefix=None, credential=credential, ttl_s=60)
    assert await db.session(old) is None
    assert await db.purge_sessions() == 1
    await db.delete_session(live)
    assert await db.session(live) is None


async def _spend(store: Store, *, model: str, credits: int, latency_ms: int, status: str = "ok") -> int:
    account = await store.create_account(name=None, credits=1_000_000)
    key, _ = await store.create_key(account_id=account, name=None)
    reservation = await store.reserve(key=key, amount=credits, ttl_s=60, model=model)
    assert isinstance(reservation, Reservation)
    await store.settle(reservation, Settlement(model, credits, 10, 5, latency_ms, status))
    return key.id


async def test_the_usage_report_and_rows(store: Store) -> None:
    db = store.console
    first = await _spend(store, model="a", credits=100, latency_ms=10)
    await _spend(store, model="a", credits=50, latency_ms=30)
    await _spend(store, model="b", credits=500, latency_ms=20)
    await _spend(store, model="b", credits=0, latency_ms=0, status="error")
    since = datetime.now(UTC) - timedelta(days=1)
    report = await db.usage_report(UsageFilter(since=since))
    assert (report.requests, report.errors, report.credits) == (4, 1, 650)
    assert [m.model for m in report.models] == ["b", "a"]
    b, a = report.models
    assert (b.requests, b.errors, b.error_rate, b.latency_ms) == (2, 1, 0.5, (20, 20, 20))
    assert (a.prompt_tokens, a.completion_tokens, a.latency_ms) == (20, 10, (10, 30, 30))
    assert report.latency_ms == (20, 30, 30)
    assert [(d.requests, d.credits) for d in report.days] == [(4, 650)]
    assert report.days[0].day == datetime.now(UTC).strftime("%Y-%m-%d")

    mine = await db.usage_report(UsageFilter(since=since, key_id=first))
    assert (mine.requests, mine.credits) == (1, 100)
    rows = await db.usage_rows(UsageFilter(since=since), limit=2)
    assert [r.model for r in rows] == ["b", "b"]
    older = await db.usage_rows(UsageFilter(since=since), after=rows[-1].id, limit=10)
    assert [r.credits for r in older] == [50, 100]
    assert await db.usage_rows(UsageFilter(since=since, status="error")) == rows[:1]
    assert await db.usage_rows(UsageFilter(since=datetime.now(UTC) + timedelta(minutes=1))) == []
    assert await db.total_balance() == (4, 4 * 1_000_000 - 650)


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (50, 90, 99)
    assert percentile([7], 99) == 7
