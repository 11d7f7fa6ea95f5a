"""Group commit on PostgreSQL: what a process queued while its previous call was in flight goes
in one call and one transaction; a refusal or a failure stays with its own item; a caller that
leaves neither leaks a reservation nor loses a settlement."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from unigate.accounts.spending import SpendingLimit
from unigate.accounts.store import ApiKey, KeySettings, Refusal, Reservation, Settlement, UsageQuery
from unigate.storage.postgres.lane import Lane
from unigate.storage.postgres.store import PostgresStore

pytestmark = pytest.mark.services


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_url, pool_size=4)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[list[PostgresStore]]:
    """Two stores on one database, as two gateway processes."""
    stores = [PostgresStore(pg_url, pool_size=4) for _ in range(2)]
    for store in stores:
        await store.open()
    yield stores
    for store in stores:
        await store.close()


async def _key(store: PostgresStore, credits: int) -> ApiKey:
    account = await store.create_account(name=None, credits=credits)
    key, _ = await store.create_key(account_id=account, name=None)
    return key


async def _reservations(store: PostgresStore) -> int:
    return int(await store.pool.fetchval("SELECT count(*) FROM reservations"))


async def test_concurrent_reservations_go_in_few_calls_and_refusals_stay_alone(pg: PostgresStore) -> None:
    key = await _key(pg, 335)
    before = pg._batch.batcher.batches
    outcomes = await asyncio.gather(*(pg.reserve(key=key, amount=10, ttl_s=60, model="m") for _ in range(40)))
    assert pg._batch.batcher.batches - before <= 2  # the first call, then everything queued meanwhile
    held = [o for o in outcomes if isinstance(o, Reservation)]
    assert len(held) == 33
    assert outcomes.count(Refusal.BALANCE) == 7
    assert await pg.balance(key.account_id) == 5
    await asyncio.gather(*(pg.settle(r, Settlement("m", 4, 1, 1, 1, "ok")) for r in held))
    assert await pg.balance(key.account_id) == 335 - 33 * 4
    assert await _reservations(pg) == 0
    assert len(await pg.usage(UsageQuery(limit=100))) == 33


async def test_a_revoked_key_in_a_batch_is_refused_alone(pg: PostgresStore) -> None:
    bad, good = await _key(pg, 100), await _key(pg, 100)  # the batch goes sorted by account: bad first
    assert await pg.delete_key(bad.prefix)
    a, b = await asyncio.gather(pg.reserve(key=good, amount=10, ttl_s=60), pg.reserve(key=bad, amount=10, ttl_s=60))
    assert isinstance(a, Reservation)
    assert b is Refusal.KEY_REVOKED


async def test_a_failing_settlement_fails_alone(pg: PostgresStore) -> None:
    key = await _key(pg, 100)
    held = await pg.reserve(key=key, amount=10, ttl_s=60)
    assert isinstance(held, Reservation)
    broken = Settlement("m", 1, 1, 1, 1, None)  # type: ignore[arg-type]  # usage.status is NOT NULL
    other = await pg.reserve(key=key, amount=10, ttl_s=60)
    assert isinstance(other, Reservation)
    results = await asyncio.gather(
        pg.settle(held, Settlement("m", 3, 1, 1, 1, "ok")), pg.settle(other, broken), return_exceptions=True
    )
    assert results[0] is None
    assert isinstance(results[1], RuntimeError)
    assert await _reservations(pg) == 1  # the failed settlement left its reservation for the sweep
    assert await pg.balance(key.account_id) == 100 - 3 - 10


async def test_a_reservation_committed_for_a_caller_that_left_is_released(pg: PostgresStore) -> None:
    key = await _key(pg, 100)
    started = asyncio.Event()
    release = asyncio.Event()
    run = pg._batch.run

    async def slow(items: list) -> list:  # type: ignore[type-arg]
        out = await run(items)  # committed ...
        started.set()
        await release.wait()  # ... but the caller is cancelled before it hears back
        return out

    pg._batch.batcher._run = slow
    task = asyncio.ensure_future(pg.reserve(key=key, amount=10, ttl_s=60))
    await started.wait()
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if await _reservations(pg) == 0:
            break
        await asyncio.sleep(0.02)
    assert await _reservations(pg) == 0
    assert await pg.balance(key.account_id) == 100
    [row] = await pg.usage(UsageQuery(limit=10))
    assert (row.status, row.credits) == ("cancelled", 0)


async def test_the_tables_each_request_rewrites_are_vacuumed_as_settlements_add_up(pg_url: str) -> None:
    store = PostgresStore(pg_url, pool_size=4, vacuum_every=50)
    await store.open()
    try:
        key = await _key(store, 10**9)

        async def request() -> None:
            reservation = await store.reserve(key=key, amount=10, ttl_s=60, model="m")
            assert isinstance(reservation, Reservation)
            await store.settle(reservation, Settlement("m", 3, 1, 1, 1, "ok"))

        await asyncio.gather(*(request() for _ in range(40)))
        await asyncio.sleep(0.2)
        assert store.vacuums == 0  # 40 settlements: not yet
        await asyncio.gather(*(request() for _ in range(20)))
        for _ in range(100):
            if store.vacuums:
                break
            await asyncio.sleep(0.05)
        assert store.vacuums == 1
        vacuumed = await store.pool.fetch(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() AND last_vacuum IS NOT NULL"
        )
        assert {r["relname"] for r in vacuumed} >= {"reservations", "accounts", "api_keys"}
        assert await _reservations(store) == 0
    finally:
        await store.close()


async def test_replicas_batching_many_accounts_never_deadlock(
    replicas: list[PostgresStore], caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes' batches each lock several accounts' rows: they must take them in one order,
    or they wait on each other in a cycle, PostgreSQL aborts one ("deadlock detected") and its
    requests fail with their settlements lost. (The store runs an aborted batch again, but that
    is a backstop: here no batch may need it.)"""
    keys = [await _key(replicas[0], 10_000_000) for _ in range(12)]
    rng = random.Random(7)

    async def request(store: PostgresStore, key: ApiKey) -> None:
        held = await store.reserve(key=key, amount=100, ttl_s=60, model="m")
        assert isinstance(held, Reservation)
        await asyncio.sleep(rng.random() / 1000)
        await store.settle(held, Settlement("m", 7, 1, 1, 1, "ok"))

    waves = 30
    for _ in range(waves):
        calls = [request(replicas[i % 2], rng.choice(keys)) for i in range(48)]
        rng.shuffle(calls)
        await asyncio.gather(*calls)
    for store in replicas:
        assert await _reservations(store) == 0
    charged = [10_000_000 - await replicas[1].balance(k.account_id) for k in keys]
    assert sum(charged) == 7 * 48 * waves
    assert all(c % 7 == 0 for c in charged)
    assert "deadlock" not in caplog.text


async def test_a_batch_aborted_by_a_deadlock_runs_again(
    pg: PostgresStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = await _key(pg, 100)
    fetchrow = Lane.fetchrow
    aborted = 0

    async def deadlock_once(lane: Lane, query: str, *args: object) -> object:
        nonlocal aborted
        if aborted == 0:
            aborted += 1
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        return await fetchrow(lane, query, *args)

    monkeypatch.setattr(Lane, "fetchrow", deadlock_once)
    held = await pg.reserve(key=key, amount=10, ttl_s=60)
    assert isinstance(held, Reservation)
    assert aborted == 1
    assert "met a deadlock and runs again" in caplog.text
    assert await pg.balance(key.account_id) == 90  # reserved once


async def _twin(store: PostgresStore) -> list[ApiKey]:
    """Two accounts; keys with and without spending limits, and one deleted key."""
    first = await store.create_account(name=None, credits=1_000)
    second = await store.create_account(name=None, credits=300)
    made = []
    for account, limit in ((first, 250), (first, 120), (first, None), (second, 90), (second, None), (first, None)):
        settings = KeySettings(limit=SpendingLimit("month", limit)) if limit else KeySettings()
        key, _ = await store.create_key(account_id=account, name=None, settings=settings)
        made.append(key)
    assert await store.delete_key(made[-1].prefix)
    return made


def _expected(asks: list[tuple[int, int]], balances: list[int], limits: list[int | None]) -> list[object]:
    """The outcomes, worked out here: keys 0-4 as ``_twin`` makes them (key 5 is deleted), keys on
    one account (keys 0-2 and 5 share the first) sharing its balance."""
    account = [0, 0, 0, 1, 1, 0]
    left, spent, out = {0: balances[0], 1: balances[3]}, [0] * 6, list[object]()
    for k, n in asks:
        if k == 5:
            out.append(Refusal.KEY_REVOKED)
        elif (limit := limits[k]) is not None and spent[k] + n > limit:
            out.append(Refusal.KEY_LIMIT)
        elif left[account[k]] < n:
            out.append(Refusal.BALANCE)
        else:
            left[account[k]] -= n
            spent[k] += n
            out.append("held")
    return out


async def _state(store: PostgresStore, keys: list[ApiKey]) -> tuple[object, ...]:
    balances = [await store.balance(k.account_id) for k in keys]
    spent = [await store.pool.fetchval("SELECT period_spent FROM api_keys WHERE id = $1", k.id) for k in keys]
    charged = await store.pool.fetchval("SELECT COALESCE(SUM(credits), 0) FROM usage")
    return balances, spent, charged, await _reservations(store)


async def test_a_batch_decides_exactly_as_the_same_calls_one_at_a_time(pg_url: str) -> None:
    """Balances and keys' spend are read once per batch and decided in memory: the outcomes and
    the state they leave must be those of the same reservations and settlements made one by one
    (in the batch's order: by account, then key). Random amounts, many refusals of each kind."""
    rng = random.Random(7)
    batched, single = PostgresStore(pg_url, pool_size=4), PostgresStore(pg_url, pool_size=4)
    await batched.open()
    await single.open()
    try:
        a_keys, b_keys = await _twin(batched), await _twin(single)
        asks = sorted((rng.randrange(6), rng.randrange(0, 80)) for _ in range(120))
        a_out = await asyncio.gather(*(batched.reserve(key=a_keys[k], amount=n, ttl_s=60) for k, n in asks))
        assert batched._batch.batcher.batches <= 2
        b_out = [await single.reserve(key=b_keys[k], amount=n, ttl_s=60) for k, n in asks]
        kinds = [o if isinstance(o, Refusal) else "held" for o in a_out]
        assert kinds == [o if isinstance(o, Refusal) else "held" for o in b_out]
        assert kinds == _expected(asks, [1_000, 1_000, 1_000, 300, 300, 1_000], [250, 120, None, 90, None, None])
        assert {Refusal.BALANCE, Refusal.KEY_LIMIT, Refusal.KEY_REVOKED, "held"} <= set(kinds)
        assert await _state(batched, a_keys) == await _state(single, b_keys)

        held = [(a, b) for a, b in zip(a_out, b_out, strict=True) if isinstance(a, Reservation)]
        assert all(isinstance(b, Reservation) for _, b in held)
        charges = [rng.randrange(-5, 90) for _ in held]
        settled = [Settlement("m", c, 1, 1, 1, "ok") for c in charges]
        rng.shuffle(order := list(range(len(held))))
        await asyncio.gather(*(batched.settle(held[i][0], settled[i]) for i in order))
        for i in sorted(order, key=lambda i: (held[i][0].account_id, held[i][0].key_id)):
            one = held[i][1]
            assert isinstance(one, Reservation)
            await single.settle(one, settled[i])
        assert await _state(batched, a_keys) == await _state(single, b_keys)
        assert (await _state(batched, a_keys))[3] == 0
    finally:
        await batched.close()
        await single.close()


async def test_settlements_and_reservations_queued_together_go_in_one_call(pg: PostgresStore) -> None:
    """What a process queued meanwhile goes in one call (``unigate_tick``) whatever its kind, over
    several accounts, each account settled before it reserves: the credit a settlement gives back
    serves a reservation of the same call. The state is that of the same calls one by one."""
    keys = [await _key(pg, 100) for _ in range(3)]
    held = []
    for key in keys:
        reservation = await pg.reserve(key=key, amount=100, ttl_s=60, model="m")  # the whole balance
        assert isinstance(reservation, Reservation)
        held.append(reservation)
    assert await pg.reserve(key=keys[1], amount=50, ttl_s=60) is Refusal.BALANCE
    before = pg._batch.batcher.batches
    blocker = asyncio.Event()
    run = pg._batch.batcher._run

    async def held_back(items: list) -> list:  # type: ignore[type-arg]
        await blocker.wait()  # everything below queues behind this call
        return list(await run(items))

    pg._batch.batcher._run = held_back
    first = asyncio.ensure_future(pg.settle(held[2], Settlement("m", 10, 1, 1, 1, "ok")))
    await asyncio.sleep(0.01)
    pg._batch.batcher._run = run
    rest = asyncio.gather(
        pg.reserve(key=keys[1], amount=50, ttl_s=60, model="m"),  # queued before its account's settlement
        pg.settle(held[1], Settlement("m", 40, 1, 1, 1, "ok")),
        pg.reserve(key=keys[0], amount=5, ttl_s=60, model="m"),
        pg.settle(held[0], Settlement("m", 100, 1, 1, 1, "ok")),
        pg.reserve(key=keys[2], amount=90, ttl_s=60, model="m"),  # settled in the first call
    )
    await asyncio.sleep(0.01)
    blocker.set()
    await first
    second, settled_one, third, settled_zero, fourth = await rest
    assert pg._batch.batcher.batches - before == 2  # the held-back call, then the five items in one
    assert isinstance(second, Reservation)  # served by the 60 credits its account's settlement freed
    assert third is Refusal.BALANCE  # account 0 was charged its whole reservation
    assert isinstance(fourth, Reservation)
    assert (settled_one, settled_zero) == (None, None)
    assert [await pg.balance(k.account_id) for k in keys] == [0, 10, 0]
    assert await _reservations(pg) == 2
    rows = await pg.usage(UsageQuery(limit=10))
    assert sorted(r.credits for r in rows) == [10, 40, 100]


async def test_replicas_mixing_reservations_and_settlements_never_deadlock(
    replicas: list[PostgresStore], caplog: pytest.LogCaptureFixture
) -> None:
    """Requests that overlap, so that each call carries reservations and settlements of several
    accounts, from two processes at once: ``unigate_tick`` must take both kinds in one lock order
    (settling an account's items, then reserving, account by account), or the calls of the two
    processes wait on each other in a cycle."""
    mixed = 0

    def counting(run: Any) -> Any:
        """``run`` (a batcher's call), counting the calls this test is about."""

        async def call(items: list[Any]) -> Any:
            nonlocal mixed
            kinds = {type(item).__name__ for item in items}
            mixed += len(kinds) == 2 and len({item.lock_order[0] for item in items}) > 1
            return await run(items)

        return call

    for replica in replicas:
        replica._batch.batcher._run = counting(replica._batch.batcher._run)
    keys = [await _key(replicas[0], 10_000_000) for _ in range(12)]
    rng = random.Random(11)

    async def client(store: PostgresStore) -> None:
        for _ in range(40):
            held = await store.reserve(key=rng.choice(keys), amount=100, ttl_s=60, model="m")
            assert isinstance(held, Reservation)
            await asyncio.sleep(rng.random() / 500)
            await store.settle(held, Settlement("m", 7, 1, 1, 1, "ok"))

    await asyncio.gather(*(client(replicas[i % 2]) for i in range(24)))
    assert mixed >= 10  # the calls this test is about did happen
    assert await _reservations(replicas[0]) == 0
    charged = [10_000_000 - await replicas[1].balance(k.account_id) for k in keys]
    assert sum(charged) == 7 * 24 * 40
    assert "deadlock" not in caplog.text
