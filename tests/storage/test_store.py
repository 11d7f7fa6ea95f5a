"""The store contract, on SQLite and on PostgreSQL: keys, reservations and settlement, spending
limits, the expiry sweep and the usage ledger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.storage.conftest import scalar, set_period_start
from unigate.accounts import keys
from unigate.accounts.spending import SpendingLimit
from unigate.accounts.store import ApiKey, KeyChanges, KeySettings, Refusal, Reservation, Settlement, Store, UsageQuery


def ok(credits: int, model: str = "m") -> Settlement:
    return Settlement(model, credits, 10, 5, 12, "ok")


async def new_key(store: Store, credits: int, settings: KeySettings | None = None) -> ApiKey:
    account = await store.create_account(name="acct", credits=credits)
    key, _ = await store.create_key(account_id=account, name="k", settings=settings)
    return key


async def reserve(store: Store, key: ApiKey, amount: int, ttl_s: float = 60) -> Reservation:
    outcome = await store.reserve(key=key, amount=amount, ttl_s=ttl_s, model="m")
    assert isinstance(outcome, Reservation), outcome
    return outcome


async def ledger_total(store: Store, account_id: int) -> int:
    rows = await store.usage(UsageQuery(account_id=account_id, limit=10_000))
    return sum(r.credits for r in rows)


async def test_keys_are_stored_as_hashes_and_found_by_prefix(store: Store) -> None:
    account = await store.create_account(name="a", credits=0)
    key, plain = await store.create_key(account_id=account, name="mine")
    assert len(plain) == 32
    assert all(c in "0123456789abcdef" for c in plain)
    assert key.prefix == plain[:8]
    assert await store.authenticate(plain) == key
    assert await store.authenticate(plain[:-1] + ("0" if plain[-1] != "0" else "1")) is None
    assert await store.authenticate("nothing-like-a-key") is None
    assert await scalar(store, f"SELECT COUNT(*) FROM api_keys WHERE digest = '{keys.digest(plain)}'") == 1


async def test_imported_key_and_prefix_collision(store: Store) -> None:
    account = await store.create_account(name="a", credits=0)
    await store.create_key(account_id=account, name=None, key="ab" * 16)
    with pytest.raises(ValueError, match="prefix"):
        await store.create_key(account_id=account, name=None, key="ab" * 8 + "cd" * 8)
    with pytest.raises(LookupError):
        await store.create_key(account_id=account + 100, name=None)


async def test_disabled_and_deleted_keys_do_not_authenticate(store: Store) -> None:
    account = await store.create_account(name="a", credits=0)
    key, plain = await store.create_key(account_id=account, name=None)
    updated = await store.update_key(key.prefix, KeyChanges(disabled=True))
    assert updated is not None
    assert updated.disabled
    assert await store.authenticate(plain) is None
    assert await store.get_key(key.prefix) is not None
    await store.update_key(key.prefix, KeyChanges(disabled=False))
    assert await store.authenticate(plain) is not None
    assert await store.delete_key(key.prefix)
    assert not await store.delete_key(key.prefix)
    assert await store.authenticate(plain) is None
    assert await store.get_key(key.prefix) is None
    assert await store.list_keys() == []
    assert await store.update_key(key.prefix, KeyChanges(name="x")) is None


async def test_key_settings_round_trip_and_partial_update(store: Store) -> None:
    settings = KeySettings(scopes=("model:chat",), limit=SpendingLimit("week", 50_000_000), rpm=10, tpm=1000)
    key = await new_key(store, 0, settings)
    assert (key.scopes, key.limit, key.rpm, key.tpm) == (("model:chat",), SpendingLimit("week", 50_000_000), 10, 1000)
    updated = await store.update_key(key.prefix, KeyChanges(name="renamed", rpm=None))
    assert updated is not None
    assert (updated.name, updated.rpm, updated.tpm, updated.limit) == ("renamed", None, 1000, key.limit)
    assert updated.updated_at >= key.updated_at
    cleared = await store.update_key(key.prefix, KeyChanges(limit=None, scopes=()))
    assert cleared is not None
    assert (cleared.limit, cleared.scopes) == (None, ())
    second = await store.create_key(account_id=key.account_id, name="two")
    other = await new_key(store, 0)
    assert [k.prefix for k in await store.list_keys()] == [key.prefix, second[0].prefix, other.prefix]
    assert [k.prefix for k in await store.list_keys(account_id=key.account_id)] == [key.prefix, second[0].prefix]


async def test_reserve_then_settle_refunds_the_difference_and_writes_one_row(store: Store) -> None:
    key = await new_key(store, 1000)
    r = await reserve(store, key, 300)
    assert await store.balance(key.account_id) == 700
    await store.settle(r, ok(120))
    await store.settle(r, ok(120))  # a second settlement is a no-op
    assert await store.balance(key.account_id) == 880
    (row,) = await store.usage(UsageQuery(key_id=key.id))
    assert (row.model, row.credits, row.prompt_tokens, row.completion_tokens, row.status) == ("m", 120, 10, 5, "ok")
    assert row.key_prefix == key.prefix
    assert await scalar(store, "SELECT COUNT(*) FROM reservations") == 0


async def test_settlement_never_charges_more_than_was_reserved(store: Store) -> None:
    key = await new_key(store, 1000)
    r = await reserve(store, key, 100)
    await store.settle(r, ok(5000))
    assert await store.balance(key.account_id) == 900
    assert await ledger_total(store, key.account_id) == 100


async def test_refusals_say_why(store: Store) -> None:
    key = await new_key(store, 100, KeySettings(limit=SpendingLimit("no_reset", 60)))
    assert await store.reserve(key=key, amount=101, ttl_s=60) is Refusal.KEY_LIMIT
    assert await store.reserve(key=key, amount=60, ttl_s=60) != Refusal.KEY_LIMIT
    poor = await new_key(store, 10)
    assert await store.reserve(key=poor, amount=11, ttl_s=60) is Refusal.BALANCE
    await store.update_key(poor.prefix, KeyChanges(disabled=True))
    assert await store.reserve(key=poor, amount=1, ttl_s=60) is Refusal.KEY_REVOKED
    gone = await new_key(store, 10)
    await store.delete_key(gone.prefix)
    assert await store.reserve(key=gone, amount=1, ttl_s=60) is Refusal.KEY_REVOKED
    assert await store.balance(poor.account_id) == 10
    assert await store.balance(gone.account_id) == 10


async def test_spending_limit_counts_reservations_and_keeps_only_charges(store: Store) -> None:
    key = await new_key(store, 10_000, KeySettings(limit=SpendingLimit("month", 1000)))
    first = await reserve(store, key, 700)
    assert await store.reserve(key=key, amount=400, ttl_s=60) is Refusal.KEY_LIMIT  # 700 held + 400 > 1000
    await store.settle(first, ok(200))  # 500 of the 700 come back to the period too
    second = await reserve(store, key, 800)
    assert await store.reserve(key=key, amount=1, ttl_s=60) is Refusal.KEY_LIMIT
    await store.settle(second, ok(800))
    assert await store.monthly_usage([key.id]) == {key.id: 1000}


async def test_spending_limit_starts_again_in_a_new_period(store: Store) -> None:
    key = await new_key(store, 10_000, KeySettings(limit=SpendingLimit("day", 100)))
    r = await reserve(store, key, 100)
    await store.settle(r, ok(100))
    assert await store.reserve(key=key, amount=1, ttl_s=60) is Refusal.KEY_LIMIT
    # Yesterday's spend: the period has turned.
    await set_period_start(store, key.id, datetime.now(UTC) - timedelta(days=1))
    await reserve(store, key, 100)


async def test_no_reset_limit_is_a_lifetime_budget(store: Store) -> None:
    key = await new_key(store, 10_000, KeySettings(limit=SpendingLimit("no_reset", 150)))
    for _ in range(3):
        r = await reserve(store, key, 50)
        await store.settle(r, ok(50))
    assert await store.reserve(key=key, amount=1, ttl_s=60) is Refusal.KEY_LIMIT
    raised = await store.update_key(key.prefix, KeyChanges(limit=SpendingLimit("no_reset", 200)))
    assert raised is not None
    await reserve(store, raised, 50)
    assert await store.reserve(key=raised, amount=1, ttl_s=60) is Refusal.KEY_LIMIT


async def test_changing_retention_recounts_the_period_from_the_ledger(store: Store) -> None:
    key = await new_key(store, 10_000, KeySettings(limit=SpendingLimit("no_reset", 1000)))
    done = await reserve(store, key, 300)
    await store.settle(done, ok(300))
    held = await reserve(store, key, 200)
    updated = await store.update_key(key.prefix, KeyChanges(limit=SpendingLimit("month", 600)))
    assert updated is not None
    # This month: 300 charged + 200 held = 500 of 600.
    assert await store.reserve(key=updated, amount=101, ttl_s=60) is Refusal.KEY_LIMIT
    await store.settle(held, ok(0))  # the held 200 come back to the new period
    await reserve(store, updated, 300)


async def test_expired_reservations_are_released_once_as_abandoned(store: Store) -> None:
    key = await new_key(store, 1000)
    r = await reserve(store, key, 400, ttl_s=0.05)
    live = await reserve(store, key, 100, ttl_s=0.05)
    await store.extend_reservations([live.id], 60)
    await asyncio.sleep(0.1)
    assert await store.release_expired() == 1
    assert await store.release_expired() == 0
    await store.settle(r, ok(400))  # the request came back after all: too late, nothing happens
    assert await store.balance(key.account_id) == 900
    rows = await store.usage(UsageQuery(key_id=key.id))
    assert [(row.status, row.credits, row.model) for row in rows] == [("abandoned", 0, "m")]
    assert await store.release_expired(datetime.now(UTC) + timedelta(minutes=5)) == 1
    assert await store.balance(key.account_id) == 1000


async def test_usage_pages_newest_first(store: Store) -> None:
    key = await new_key(store, 10_000)
    other = await new_key(store, 10_000)
    for i in range(5):
        await store.settle(await reserve(store, key, 10), ok(i))
    await store.settle(await reserve(store, other, 10), ok(9))
    page = await store.usage(UsageQuery(key_id=key.id, limit=3))
    assert [r.credits for r in page] == [4, 3, 2]
    rest = await store.usage(UsageQuery(key_id=key.id, after=page[-1].id, limit=3))
    assert [r.credits for r in rest] == [1, 0]
    assert [r.credits for r in await store.usage(UsageQuery(account_id=other.account_id))] == [9]
    assert len(await store.usage(UsageQuery())) == 6


async def test_credits(store: Store) -> None:
    account = await store.create_account(name=None, credits=5)
    assert await store.add_credits(account, 10) == 15
    assert await store.add_credits(account, -15) == 0
    with pytest.raises(ValueError, match="below zero"):
        await store.add_credits(account, -1)
    with pytest.raises(LookupError):
        await store.add_credits(account + 1, 1)
    with pytest.raises(LookupError):
        await store.balance(account + 1)


async def test_management_key(store: Store) -> None:
    generated = await store.ensure_management_key(None)
    assert generated is not None
    assert generated.startswith("mk-")
    assert await store.ensure_management_key(None) is None
    assert await store.check_management_key(generated)
    assert await store.ensure_management_key("mk-chosen") is None
    assert await store.check_management_key("mk-chosen")
    assert not await store.check_management_key(generated)


async def test_concurrent_reservations_never_overspend(store: Store) -> None:
    """200 requests at once against a balance that covers 37 of them: exactly 37 get through,
    and after settlement balance + ledger = the initial credit."""
    worst, initial = 1000, 37_000 + 999
    key = await new_key(store, initial)
    outcomes = await asyncio.gather(*(store.reserve(key=key, amount=worst, ttl_s=60) for _ in range(200)))
    taken = [o for o in outcomes if isinstance(o, Reservation)]
    assert len(taken) == 37
    assert all(o is Refusal.BALANCE for o in outcomes if not isinstance(o, Reservation))
    assert await store.balance(key.account_id) == 999
    await asyncio.gather(*(store.settle(r, ok(100 + i)) for i, r in enumerate(taken)))
    await asyncio.gather(*(store.settle(r, ok(100 + i)) for i, r in enumerate(taken)))  # twice: no effect
    charged = sum(100 + i for i in range(37))
    assert await ledger_total(store, key.account_id) == charged
    assert await store.balance(key.account_id) + charged == initial
    assert len(await store.usage(UsageQuery(key_id=key.id, limit=1000))) == 37
