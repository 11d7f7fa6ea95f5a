"""``unigate serve --workers 2`` is one gateway to look at: ``/metrics`` counts every request
whichever worker served it and whichever answers the scrape, and the console's sign-in throttle
(in Redis) holds whichever worker a sign-in lands on."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
import redis
from prometheus_client import multiprocess

from tests import services
from tests.conftest import require_services
from tests.services import Replica, replica_env

pytestmark = pytest.mark.services

MK = {"Authorization": "Bearer mk-test"}
CHAT = 'unigate_requests_total{route="/v1/chat/completions",status="200"}'


class Workers:
    def __init__(self, replica: Replica, shared_parent: Path, prefix: str) -> None:
        self.replica = replica
        self.shared_parent = shared_parent
        self.prefix = prefix

    @property
    def url(self) -> str:
        return self.replica.url

    def served_per_worker(self) -> dict[str, float]:
        """Chat requests counted in each worker's own file, read beside the server."""
        (shared,) = self.shared_parent.glob("unigate-metrics-*")
        counts: dict[str, float] = {}
        for path in shared.glob("counter_*.db"):
            for metric in multiprocess.MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]
                for sample in metric.samples:
                    if sample.name == "unigate_requests_total" and sample.labels["route"] == "/v1/chat/completions":
                        counts[path.stem] = counts.get(path.stem, 0.0) + sample.value
        return counts


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    require_services()
    base, redis_url = services.postgres_url(), services.redis_url()
    assert base is not None
    assert redis_url is not None
    schema, pg_url = services.new_schema(base)
    prefix = f"unigate-test-{secrets.token_hex(4)}:"
    folder = tmp_path_factory.mktemp("workers")
    shared_parent = folder / "prometheus"
    shared_parent.mkdir()
    env = replica_env(
        database_url=pg_url, redis=redis_url, prefix=prefix, data_dir=folder, PROMETHEUS_MULTIPROC_DIR=shared_parent
    )
    replica = Replica(env, folder / "serve.log", args=("--workers", "2")).start()
    try:
        replica.wait_ready()
        yield Workers(replica, shared_parent, prefix)
    finally:
        replica.stop()
        services.drop_schema(base, schema)
        services.drop_redis_keys(redis_url, prefix)
    assert replica.process is not None
    assert replica.process.returncode == 0
    assert list(shared_parent.iterdir()) == []  # the start's directory is removed at the end


def _scrape(url: str) -> dict[str, float]:
    # A connection of its own per call: the kernel hands it to either worker.
    r = httpx2.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=10)
    assert r.status_code == 200
    samples: dict[str, float] = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_metrics_count_every_request_whichever_worker_served_it(workers: Workers) -> None:
    r = httpx2.post(f"{workers.url}/v1/keys", json={"credits": 1_000_000}, headers=MK, timeout=30)
    assert r.status_code == 200, r.text
    key = r.json()["data"]["key"]
    body = {"model": "fake/echo", "messages": [{"role": "user", "content": "a b"}], "max_tokens": 4}

    def chat(_: int) -> int:
        headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
        return httpx2.post(f"{workers.url}/v1/chat/completions", json=body, headers=headers, timeout=30).status_code

    sent = 0
    with ThreadPoolExecutor(8) as pool:
        # Until both workers have served some (the kernel, not us, picks the worker of a connection).
        while sent < 400 and (sent < 40 or len([n for n in workers.served_per_worker().values() if n > 0]) < 2):
            assert list(pool.map(chat, range(20))) == [200] * 20
            sent += 20
    per_worker = workers.served_per_worker()
    assert len(per_worker) == 2
    assert all(0 < n < sent for n in per_worker.values())
    assert sum(per_worker.values()) == sent

    for _ in range(8):  # every answer, from either worker, shows the whole gateway
        samples = _scrape(workers.url)
        assert samples[CHAT] == sent
        assert samples['unigate_model_requests_total{model="fake/echo",status="ok"}'] == sent
        assert samples['unigate_request_duration_seconds_count{route="/v1/chat/completions"}'] == sent
        assert samples["unigate_streams_in_flight"] == 0
        assert not any(name.startswith("process_") for name in samples)  # one worker's, so left out


def _sign_in(url: str, key: str) -> httpx2.Response:
    """A sign-in on a connection of its own, as a browser would post the form."""
    with httpx2.Client(base_url=url, headers={"Connection": "close"}, timeout=30) as client:
        form = client.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None
        return client.post("/console/login", data={"login_token": token.group(1), "key": key, "next": ""})


def test_the_sign_in_throttle_holds_across_workers(workers: Workers) -> None:
    assert _sign_in(workers.url, "mk-test").status_code == 303
    for _ in range(10):
        assert _sign_in(workers.url, "f" * 32).status_code == 401
    url = services.redis_url()
    assert url is not None
    client = redis.Redis.from_url(url)
    try:
        assert client.zcard(f"{workers.prefix}signin:127.0.0.1") == 10
    finally:
        client.close()
    for _ in range(6):  # on either worker, even with the right key
        r = _sign_in(workers.url, "mk-test")
        assert r.status_code == 429
        assert 0 < int(r.headers["Retry-After"]) <= 600
