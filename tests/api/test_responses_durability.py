"""Background responses whose process goes away: a gateway that shuts down ends the ones it runs
``failed``, not charged; a row whose process died (its lease ran out) is ended ``failed`` by a
keeper, its reservation settled once to nothing, whoever sweeps and however often; on PostgreSQL,
a replica killed with SIGKILL leaves its background responses to another replica, which ends
them so, and a cancel sent to one replica stops the response another one runs."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests import services
from tests.api.test_billing_replicas import MK, balance, ledger, open_reservations
from tests.conftest import require_services
from tests.serving import Server, fake_settings
from unigate.accounts.store import Reservation
from unigate.api.context import RESPONSES
from unigate.core.response_keeper import ResponseKeeper
from unigate.core.responses import StoredResponse

FAKE = "fake/echo"
SLOW = " ".join(f"w{i}" for i in range(100))


def create(url: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx2.post(f"{url}/v1/responses", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def retrieve(url: str, key: str, response_id: str) -> dict[str, Any]:
    r = httpx2.get(f"{url}/v1/responses/{response_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_gateway_that_stops_ends_its_background_responses_failed(tmp_path: Path) -> None:
    server = Server(fake_settings(tmp_path, fake_token_delay_s=0.05)).start()
    key, account_id = server.new_key(credits=1_000_000)
    started = create(server.url, key, {"model": FAKE, "input": SLOW, "background": True})
    time.sleep(0.3)
    server.stop()
    with server.db() as db:
        status, error = db.execute("SELECT status, error FROM responses WHERE id = ?", (started["id"],)).fetchone()
    assert status == "failed"
    assert '"server_error"' in error
    assert server.usage_rows(account_id) == [(FAKE, 0, 0, 0, "error")]
    assert server.open_reservations() == 0
    assert server.balance(account_id) == 1_000_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path)).start()
    yield running
    running.stop()


def test_an_abandoned_row_is_ended_and_settled_once(server: Server) -> None:
    key, account_id = server.new_key(credits=1_000_000)
    flow = server._runner.app[RESPONSES]  # type: ignore[union-attr]
    store = server.gateway.store

    async def abandon() -> StoredResponse:
        api_key = await store.authenticate(key)
        assert api_key is not None
        held = await store.reserve(key=api_key, amount=500, ttl_s=3600, model=FAKE)
        assert isinstance(held, Reservation)
        now = time.time()
        row = StoredResponse(
            id="resp_" + secrets.token_hex(12),
            account_id=account_id,
            key_id=api_key.id,
            model=FAKE,
            status="in_progress",
            input_items=[],
            body={"id": "x", "object": "response", "status": "in_progress", "output": []},
            created=now - 100,
            expires=now + 3600,
            background=True,
            reservation_id=held.id,
            reserved=500,
            lease_owner="a-process-that-died",
            lease_until=now - 1,
        )
        await flow.responses.create_response(row)
        return row

    row = server.call(abandon())
    assert server.balance(account_id) == 1_000_000 - 500
    keepers = [ResponseKeeper(flow) for _ in range(3)]

    async def sweep() -> list[int]:
        return list(await asyncio.gather(*(k.turn() for k in keepers)))

    ended = server.call(sweep())
    assert sorted(ended) == [0, 0, 1]
    assert server.call(keepers[0].turn()) == 0
    found = retrieve(server.url, key, row.id)
    assert found["status"] == "failed"
    assert found["error"]["code"] == "server_error"
    assert server.usage_rows(account_id) == [(FAKE, 0, 0, 0, "error")]
    assert server.balance(account_id) == 1_000_000
    assert server.open_reservations() == 0


# -- replicas on PostgreSQL ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[services.Replica]]:
    require_services()
    base, redis_url = services.postgres_url(), services.redis_url()
    assert base is not None
    assert redis_url is not None
    schema, pg_url = services.new_schema(base)
    prefix = f"unigate-test-{secrets.token_hex(4)}:"
    folder = tmp_path_factory.mktemp("response-replicas")
    env = services.replica_env(
        database_url=pg_url,
        redis=redis_url,
        prefix=prefix,
        data_dir=folder,
        UNIGATE_RESPONSES_LEASE_S="1.5",
        UNIGATE_FAKE_TOKEN_DELAY_S="0.05",
        UNIGATE_RESERVATION_TTL_S="600",  # so that only the keeper can have released them
    )
    started = [services.Replica(env, folder / f"replica-{i}.log").start() for i in range(3)]
    for replica in started:
        replica.wait_ready()
    yield started
    for replica in started:
        replica.stop()
    services.drop_schema(base, schema)
    services.drop_redis_keys(redis_url, prefix)


def new_key(replica: services.Replica) -> dict[str, Any]:
    r = httpx2.post(f"{replica.url}/v1/keys", json={"credits": 1_000_000}, headers=MK, timeout=30)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def ended(url: str, key: str, ids: list[str], *, within_s: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while True:
        found = {i: retrieve(url, key, i) for i in ids}
        if all(body["status"] not in ("queued", "in_progress") for body in found.values()):
            return found
        assert time.monotonic() < deadline, [body["status"] for body in found.values()]
        time.sleep(0.2)


@pytest.mark.services
def test_a_killed_replicas_background_responses_end_failed_elsewhere(replicas: list[services.Replica]) -> None:
    doomed, survivor, _ = replicas
    key = new_key(survivor)
    ids = [create(doomed.url, key["key"], {"model": FAKE, "input": SLOW, "background": True})["id"] for _ in range(4)]
    time.sleep(0.5)
    doomed.kill()
    finals = ended(survivor.url, key["key"], ids, within_s=20)
    assert {body["status"] for body in finals.values()} == {"failed"}
    assert {body["error"]["code"] for body in finals.values()} == {"server_error"}
    rows = ledger(survivor, key["account_id"])
    assert [(row["status"], row["credits_used"]) for row in rows] == [("error", 0)] * 4  # once each
    assert balance(survivor, key["account_id"]) == 1_000_000
    assert open_reservations(survivor.env["UNIGATE_DATABASE_URL"]) == 0


@pytest.mark.services
def test_a_cancel_sent_to_another_replica_stops_the_response(replicas: list[services.Replica]) -> None:
    _, runner, other = replicas
    key = new_key(runner)
    made = create(runner.url, key["key"], {"model": FAKE, "input": SLOW, "background": True})
    time.sleep(0.3)
    r = httpx2.post(
        f"{other.url}/v1/responses/{made['id']}/cancel", headers={"Authorization": f"Bearer {key['key']}"}, timeout=30
    )
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    deadline = time.monotonic() + 5  # the runner's keeper turns every half second here
    while open_reservations(runner.env["UNIGATE_DATABASE_URL"]):
        assert time.monotonic() < deadline, "the runner did not stop the cancelled response"
        time.sleep(0.1)
    rows = ledger(runner, key["account_id"])
    assert [(row["status"], row["credits_used"]) for row in rows] == [("cancelled", 101)]
    assert retrieve(other.url, key["key"], made["id"])["status"] == "cancelled"
