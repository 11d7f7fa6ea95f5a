"""Three ``unigate serve`` processes on one PostgreSQL and one Redis behave as one gateway: the
ledger stays exact under 200 concurrent requests, a rate limit holds across them, a key
disabled through one stops on all, and a replica killed mid-request loses no ledger row and
holds no credits for ever."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx2
import pytest

from tests import services
from tests.api.test_billing_concurrency import COST, INITIAL, check_outcome, fire
from tests.api.test_chat_fake import FAKE
from tests.conftest import require_services
from tests.services import Replica, replica_env

pytestmark = pytest.mark.services

MK = {"Authorization": "Bearer mk-test"}
TTL_S = 1.2

Start = Callable[..., list[Replica]]


@pytest.fixture(scope="module")
def start_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """Starts replicas on a PostgreSQL schema and a Redis prefix of this module's own."""
    require_services()
    base, redis_url = services.postgres_url(), services.redis_url()
    assert base is not None
    assert redis_url is not None
    schema, pg_url = services.new_schema(base)
    prefix = f"unigate-test-{secrets.token_hex(4)}:"
    folder = tmp_path_factory.mktemp("replicas")
    started: list[Replica] = []

    def start(n: int = 3, **extra: Any) -> list[Replica]:
        env = replica_env(database_url=pg_url, redis=redis_url, prefix=prefix, data_dir=folder, **extra)
        batch = [Replica(env, folder / f"replica-{len(started) + i}.log").start() for i in range(n)]
        started.extend(batch)
        for replica in batch:
            replica.wait_ready()
        return batch

    yield start
    for replica in started:
        replica.stop()
    services.drop_schema(base, schema)
    services.drop_redis_keys(redis_url, prefix)


@pytest.fixture(scope="module")
def gateway(start_replicas: Start) -> list[Replica]:
    """Three replicas shared by the tests that do not need special settings."""
    return start_replicas(3)


def pg_url_of(replica: Replica) -> str:
    return replica.env["UNIGATE_DATABASE_URL"]


def new_key(replica: Replica, **body: Any) -> dict[str, Any]:
    r = httpx2.post(f"{replica.url}/v1/keys", json=body, headers=MK, timeout=30)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def balance(replica: Replica, account: int) -> int:
    r = httpx2.get(f"{replica.url}/v1/accounts/{account}", headers=MK, timeout=30)
    value: int = r.json()["data"]["balance"]
    return value


def ledger(replica: Replica, account: int) -> list[dict[str, Any]]:
    r = httpx2.get(f"{replica.url}/v1/usage", params={"account_id": account, "limit": 1000}, headers=MK, timeout=30)
    rows: list[dict[str, Any]] = r.json()["data"]
    return rows


def open_reservations(pg_url: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(pg_url)
        try:
            return int(await conn.fetchval("SELECT COUNT(*) FROM reservations"))
        finally:
            await conn.close()

    return asyncio.run(count())


def chat(replica: Replica, key: str, text: str = "a b c", **kw: Any) -> httpx2.Response:
    body = {"model": FAKE, "messages": [{"role": "user", "content": text}], "max_tokens": 3, **kw}
    return httpx2.post(
        f"{replica.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def test_200_concurrent_requests_on_3_replicas_never_overspend(gateway: list[Replica]) -> None:
    replicas = gateway
    key = new_key(replicas[0], credits=INITIAL)
    responses = asyncio.run(fire([r.url for r in replicas], key["key"], 200))
    accepted, billed = check_outcome(responses)
    assert 37 <= accepted <= INITIAL // COST
    rows = ledger(replicas[1], key["account_id"])
    assert len(rows) == accepted
    assert all(row["status"] == "ok" for row in rows)
    assert sum(row["credits_used"] for row in rows) == billed
    assert open_reservations(pg_url_of(replicas[0])) == 0
    final = balance(replicas[2], key["account_id"])
    assert final >= 0
    assert final + billed == INITIAL


def test_a_rate_limit_holds_across_replicas(gateway: list[Replica]) -> None:
    replicas = gateway
    key = new_key(replicas[0], credits=1_000_000, rate_limit={"rpm": 10})
    responses = asyncio.run(fire([r.url for r in replicas], key["key"], 30))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 20
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


def test_a_key_disabled_on_one_replica_stops_on_all(gateway: list[Replica]) -> None:
    replicas = gateway
    key = new_key(replicas[0], credits=1_000_000)
    for replica in replicas:  # every replica has the key in its cache now
        assert chat(replica, key["key"]).status_code == 200
    r = httpx2.patch(f"{replicas[2].url}/v1/keys/{key['prefix']}", json={"disabled": True}, headers=MK)
    assert r.status_code == 200
    for replica in replicas:
        assert chat(replica, key["key"]).status_code == 401
    httpx2.patch(f"{replicas[1].url}/v1/keys/{key['prefix']}", json={"disabled": False}, headers=MK)
    assert chat(replicas[0], key["key"]).status_code == 200
    # The CLI, from another process, announces its changes too.
    cli = subprocess.run(
        [sys.executable, "-m", "unigate", "keys", "delete", key["prefix"]],
        env=replicas[0].env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    for replica in replicas:
        assert chat(replica, key["key"]).status_code == 401


def test_a_replica_killed_mid_request_holds_nothing_for_ever(start_replicas: Start) -> None:
    victim, survivor = start_replicas(2, UNIGATE_RESERVATION_TTL_S=TTL_S, UNIGATE_FAKE_TOKEN_DELAY_S=0.05)
    pg_url = pg_url_of(victim)
    key = new_key(victim, credits=100_000)
    done = chat(victim, key["key"], "x y")  # finished and settled before the crash
    assert done.status_code == 200
    words = " ".join(f"w{i}" for i in range(200))
    body = {"model": FAKE, "messages": [{"role": "user", "content": words}], "stream": True}
    with httpx2.stream(
        "POST",
        f"{victim.url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key['key']}"},
        timeout=30,
    ) as stream:
        received = 0
        for line in stream.iter_lines():
            received += line.startswith("data: ")
            if received == 3:
                victim.kill()
                break
    assert open_reservations(pg_url) == 1  # the dead request's reservation is still held...
    # ...while the surviving replica keeps its own live request's reservation alive past the TTL.
    slow = {"model": FAKE, "messages": [{"role": "user", "content": " ".join(["z"] * 50)}], "max_tokens": 50}
    live = httpx2.post(
        f"{survivor.url}/v1/chat/completions", json=slow, headers={"Authorization": f"Bearer {key['key']}"}, timeout=30
    )
    assert live.status_code == 200  # 50 tokens x 0.05 s: longer than the TTL
    deadline = time.monotonic() + 10 * TTL_S
    while open_reservations(pg_url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_reservations(pg_url) == 0
    rows = ledger(survivor, key["account_id"])
    assert sorted(row["status"] for row in rows) == ["abandoned", "ok", "ok"]
    abandoned = next(row for row in rows if row["status"] == "abandoned")
    assert (abandoned["model"], abandoned["credits_used"]) == (FAKE, 0)
    charged = done.json()["meta"]["usage"]["credits_used"] + live.json()["meta"]["usage"]["credits_used"]
    assert sum(row["credits_used"] for row in rows) == charged
    assert balance(survivor, key["account_id"]) + charged == 100_000
