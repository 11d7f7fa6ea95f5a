"""Stored responses (``core/responses.py``'s ``ResponseStore``), on SQLite and on PostgreSQL: a
row is read by its own account only; a chain is followed oldest first within the account and
stops where a link is gone; only the lease's holder ends a running row, a cancel or a delete wins
over it; abandoned rows are ended once, whoever sweeps; expired ended rows go."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from unigate.accounts.store import Store
from unigate.core.responses import ResponseStore, StoredResponse
from unigate.settings import load_settings
from unigate.storage.factory import response_store

T = 1_700_000_000.0
_ids = iter(range(1, 1_000_000))


def new_row(account_id: int, **fields: Any) -> StoredResponse:
    n = next(_ids)
    row = StoredResponse(
        id=f"resp_{n:06d}",
        account_id=account_id,
        key_id=account_id * 10,
        model="fake/echo",
        status="completed",
        input_items=[
            {"id": f"msg_{n}", "type": "message", "role": "user", "content": [{"type": "input_text", "text": str(n)}]}
        ],
        body={"id": f"resp_{n:06d}", "object": "response", "output": [{"type": "message", "id": f"out_{n}"}]},
        created=T,
        expires=T + 3600,
    )
    return dataclasses.replace(row, **fields)


async def account(store: Store) -> int:
    return await store.create_account(name="responses", credits=0)


async def test_a_response_is_read_by_its_own_account_only(store: Store) -> None:
    responses = response_store(store)
    mine, theirs = await account(store), await account(store)
    row = new_row(mine, error={"code": "x", "message": "é ✓"}, previous_id="resp_gone", background=True)
    await responses.create_response(row)
    assert await responses.get_response(row.id, mine) == row
    assert await responses.get_response(row.id, theirs) is None
    assert not await responses.delete_response(row.id, theirs)
    assert await responses.delete_response(row.id, mine)
    assert await responses.get_response(row.id, mine) is None
    assert not await responses.delete_response(row.id, mine)


async def chain_of(responses: ResponseStore, account_id: int, n: int) -> list[StoredResponse]:
    rows: list[StoredResponse] = []
    for _ in range(n):
        row = new_row(account_id, previous_id=rows[-1].id if rows else None)
        await responses.create_response(row)
        rows.append(row)
    return rows


async def test_a_chain_is_followed_oldest_first_within_its_account(store: Store) -> None:
    responses = response_store(store)
    mine, theirs = await account(store), await account(store)
    rows = await chain_of(responses, mine, 4)
    assert await responses.response_chain(rows[-1].id, mine, limit=100) == rows
    assert await responses.response_chain(rows[1].id, mine, limit=100) == rows[:2]
    assert await responses.response_chain(rows[-1].id, mine, limit=2) == rows[2:]
    assert await responses.response_chain(rows[-1].id, theirs, limit=100) == []
    # Another account's row named as the previous one is not followed.
    foreign = new_row(theirs, previous_id=rows[-1].id)
    await responses.create_response(foreign)
    assert await responses.response_chain(foreign.id, theirs, limit=100) == [foreign]
    # A link gone: the chain starts after it, and its oldest row still names it.
    assert await responses.delete_response(rows[1].id, mine)
    found = await responses.response_chain(rows[-1].id, mine, limit=100)
    assert found == rows[2:]
    assert found[0].previous_id == rows[1].id


async def test_keeping_a_chain_pushes_its_expiry_and_expired_rows_go(store: Store) -> None:
    responses = response_store(store)
    mine = await account(store)
    old, kept = new_row(mine, expires=T + 10), new_row(mine, expires=T + 10)
    running = new_row(mine, expires=T + 10, status="in_progress", background=True, lease_owner="a", lease_until=T)
    later = new_row(mine, expires=T + 9999)
    for row in (old, kept, running, later):
        await responses.create_response(row)
    await responses.keep_responses([kept.id, later.id], until=T + 5000)
    assert (await responses.get_response(later.id, mine)) == later  # never shortened
    assert await responses.remove_responses(now=T + 100) == 1  # a running row stays
    assert await responses.get_response(old.id, mine) is None
    found = await responses.get_response(kept.id, mine)
    assert found is not None
    assert found.expires == T + 5000
    assert await responses.get_response(running.id, mine) is not None


async def test_only_the_lease_holder_ends_a_running_row(store: Store) -> None:
    responses = response_store(store)
    mine = await account(store)
    row = new_row(mine, status="queued", background=True, lease_owner="a", lease_until=T + 60)
    await responses.create_response(row)
    assert not await responses.start_response(row.id, "b", now=T)
    assert await responses.start_response(row.id, "a", now=T)
    assert not await responses.start_response(row.id, "a", now=T)  # started once
    assert (await responses.response_statuses([row.id, "resp_none"])) == {row.id: "in_progress"}
    body = {"id": row.id, "output": [{"type": "message"}], "status": "completed"}
    ending: dict[str, Any] = {"status": "completed", "body": body, "error": None, "now": T + 5}
    assert not await responses.finish_response(row.id, "b", **ending)
    assert await responses.finish_response(row.id, "a", **ending)
    assert not await responses.finish_response(row.id, "a", **ending)  # ended once
    done = await responses.get_response(row.id, mine)
    assert done is not None
    assert (done.status, done.body, done.ended, done.lease_owner) == ("completed", body, T + 5, None)


async def test_a_cancel_or_a_delete_wins_over_the_running_process(store: Store) -> None:
    responses = response_store(store)
    mine, theirs = await account(store), await account(store)
    foreground = new_row(mine)
    cancelled = new_row(mine, status="in_progress", background=True, lease_owner="a", lease_until=T + 60)
    deleted = new_row(mine, status="in_progress", background=True, lease_owner="a", lease_until=T + 60)
    for row in (foreground, cancelled, deleted):
        await responses.create_response(row)
    assert not await responses.cancel_response(foreground.id, mine, now=T)  # not a background one
    assert not await responses.cancel_response(cancelled.id, theirs, now=T)
    assert await responses.cancel_response(cancelled.id, mine, now=T)
    assert not await responses.cancel_response(cancelled.id, mine, now=T)
    assert await responses.delete_response(deleted.id, mine)
    assert await responses.response_statuses([cancelled.id, deleted.id]) == {cancelled.id: "cancelled"}
    for row in (cancelled, deleted):
        assert not await responses.finish_response(
            row.id, "a", status="completed", body={"x": 1}, error=None, now=T + 1
        )
    found = await responses.get_response(cancelled.id, mine)
    assert found is not None
    assert (found.status, found.body) == ("cancelled", cancelled.body)


async def test_abandoned_rows_are_ended_once_whoever_sweeps(store: Store) -> None:
    responses = response_store(store)
    mine = await account(store)
    lost = [
        new_row(mine, status=s, background=True, lease_owner="dead", lease_until=T - 1, reservation_id=f"r{i}")
        for i, s in enumerate(["queued", "in_progress"] * 10)
    ]
    alive = new_row(mine, status="in_progress", background=True, lease_owner="live", lease_until=T + 30)
    for row in (*lost, alive):
        await responses.create_response(row)
    await responses.renew_responses("live", [alive.id, lost[0].id], until=T + 90)  # not another's
    await responses.renew_responses("dead", [], until=T + 90)
    error = {"code": "server_error", "message": "gone"}
    swept = await asyncio.gather(*(responses.fail_abandoned(now=T, error=error, limit=7) for _ in range(4)))
    ended = [row for batch in swept for row in batch]
    ended += await responses.fail_abandoned(now=T, error=error)
    assert sorted(r.id for r in ended) == sorted(r.id for r in lost)  # each once
    assert all((r.status, r.error, r.lease_owner) == ("failed", error, None) for r in ended)
    assert {r.reservation_id for r in ended} == {f"r{i}" for i in range(20)}
    assert await responses.fail_abandoned(now=T + 60, error=error) == []  # the live lease was renewed
    assert (await responses.response_statuses([alive.id]))[alive.id] == "in_progress"


def test_the_responses_settings_are_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "unigate.toml"
    config.write_text("[responses]\nretention_s = 3600\nlease_s = 30\n")
    settings = load_settings(config, env={"UNIGATE_RESPONSES_LEASE_S": "12"})
    assert (settings.responses.retention_s, settings.responses.lease_s) == (3600, 12)
    assert load_settings(None, env={}).responses.retention_s == 30 * 86400
    config.write_text("[responses]\nttl = 1\n")
    with pytest.raises(ValueError, match="unknown \\[responses\\] settings: ttl"):
        load_settings(config, env={})
    with pytest.raises(ValueError, match="must be positive"):
        load_settings(None, env={"UNIGATE_RESPONSES_RETENTION_S": "0"})
