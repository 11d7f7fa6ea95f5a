"""Generation jobs across ``unigate serve`` processes on one PostgreSQL: replicas killed with
SIGKILL while their jobs are queued, generating, running inline and being downloaded leave every
job to end cleanly on a replica started after them, each charged once and nothing left reserved;
two replicas polling the same rows never do one twice.

The fake job models run in the replicas (``providers/fake_jobs.py``); a video prompted ``URL`` is
fetched from ``fake-upstream.invalid``, which no resolver knows, so the replica's downloader hands
it to the HTTP proxy this module runs (``UNIGATE_FETCH_VIA_PROXY``), which serves it slowly."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from aiohttp import web

from tests import services
from tests.api.test_billing_replicas import MK, balance, ledger, open_reservations
from tests.conftest import require_services
from tests.loopback import LoopbackApp
from tests.services import Replica, replica_env
from unigate.providers.fake_jobs import fake_video

pytestmark = pytest.mark.services

INITIAL = 10_000_000
VIDEO_BYTES = fake_video(5) * 2000  # about 1.2 MB, served in 40 pieces over about 4 s

Start = Callable[..., list[Replica]]
Cluster = tuple[Start, "SlowProxy"]


class SlowProxy:
    """An HTTP proxy that answers every request with the fake video, a piece every 0.1 s."""

    def __init__(self) -> None:
        self.served = 0
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = LoopbackApp(app)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.served += 1
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = len(VIDEO_BYTES)
        await response.prepare(request)
        step = len(VIDEO_BYTES) // 40 + 1
        for start in range(0, len(VIDEO_BYTES), step):
            await response.write(VIDEO_BYTES[start : start + step])
            await asyncio.sleep(0.1)
        await response.write_eof()
        return response

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_services()
    base, redis_url = services.postgres_url(), services.redis_url()
    assert base is not None
    assert redis_url is not None
    schema, pg_url = services.new_schema(base)
    prefix = f"unigate-test-{secrets.token_hex(4)}:"
    folder = tmp_path_factory.mktemp("job-replicas")
    proxy = SlowProxy()
    started: list[Replica] = []

    def start(n: int = 1) -> list[Replica]:
        env = replica_env(
            database_url=pg_url,
            redis=redis_url,
            prefix=prefix,
            data_dir=folder,
            UNIGATE_JOBS_LEASE_S="3",
            UNIGATE_JOBS_TICK_S="0.2",
            UNIGATE_FETCH_VIA_PROXY="1",
            HTTP_PROXY=proxy.server.origin,
            NO_PROXY="127.0.0.1,localhost",
        )
        batch = [Replica(env, folder / f"replica-{len(started) + i}.log").start() for i in range(n)]
        started.extend(batch)
        for replica in batch:
            replica.wait_ready()
        return batch

    yield start, proxy
    for replica in started:
        replica.stop()
    proxy.stop()
    services.drop_schema(base, schema)
    services.drop_redis_keys(redis_url, prefix)


def _create(replica: Replica, key: str, path: str, body: dict[str, Any]) -> str:
    answer = httpx2.post(f"{replica.url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    job_id: str = answer.json()["id"]
    return job_id


def _ended(replica: Replica, key: str, jobs: dict[str, str], *, within_s: float) -> dict[str, dict[str, Any]]:
    """Each job's final poll answer, asked of ``replica`` until all have ended."""
    deadline = time.monotonic() + within_s
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(jobs):
        for job_id, path in jobs.items():
            if job_id in done:
                continue
            answer = httpx2.get(
                f"{replica.url}{path}?generation_id={job_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            if body["status"] in ("completed", "error"):
                done[job_id] = body
        assert time.monotonic() < deadline, f"{len(jobs) - len(done)} jobs still running"
        time.sleep(0.2)
    return done


def _new_key(replica: Replica) -> dict[str, Any]:
    r = httpx2.post(f"{replica.url}/v1/keys", json={"credits": INITIAL}, headers=MK, timeout=30)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def _check_the_books(replica: Replica, key: dict[str, Any], finals: dict[str, dict[str, Any]]) -> None:
    """One ledger row per job, the balance down by what the jobs say they cost, nothing held."""
    rows = ledger(replica, key["account_id"])
    assert len(rows) == len(finals)
    charged = sum(body["meta"]["usage"]["credits_used"] for body in finals.values())
    assert sum(row["credits_used"] for row in rows) == charged
    assert balance(replica, key["account_id"]) == INITIAL - charged
    assert open_reservations(replica.env["UNIGATE_DATABASE_URL"]) == 0


def test_replicas_killed_mid_job_leave_every_job_to_end_cleanly(cluster: Cluster) -> None:
    start_replicas, proxy = cluster
    first, second = start_replicas(2)
    key = _new_key(first)
    jobs: dict[str, str] = {}
    for i in range(6):  # queued, then generating, when the replicas die
        jobs[
            _create(first, key["key"], "/v2/video/generations", {"model": "fake/video", "prompt": f"WAIT:{2 + i}"})
        ] = "/v2/video/generations"
    for _ in range(3):  # their files being fetched through the slow proxy when the replicas die
        fetched = {"model": "fake/video", "prompt": "URL WAIT:1"}
        jobs[_create(second, key["key"], "/v2/video/generations", fetched)] = "/v2/video/generations"
    for _ in range(3):  # running inline on a poller when the replicas die
        inline = {"model": "fake/music", "prompt": "WAIT:6"}
        jobs[_create(first, key["key"], "/v2/generate/audio", inline)] = "/v2/generate/audio"
    time.sleep(2.5)
    assert proxy.served == 3  # the three files are being fetched
    first.kill()
    second.kill()
    (third,) = start_replicas(1)
    finals = _ended(third, key["key"], jobs, within_s=60)
    assert proxy.served == 6  # each fetched again, once, by the replica that took the job over
    statuses = {job_id: body["status"] for job_id, body in finals.items()}
    videos = [j for j, path in jobs.items() if path == "/v2/video/generations"]
    assert all(statuses[j] == "completed" for j in videos), statuses  # polled again, fetched again
    for job_id, body in finals.items():
        if body["status"] == "error":  # only an inline run cut short can end so: never run twice
            assert jobs[job_id] == "/v2/generate/audio"
            assert body["error"]["name"] == "GatewayRestarted"
            assert body["meta"]["usage"]["credits_used"] == 0
        else:
            field = "video" if jobs[job_id] == "/v2/video/generations" else "audio_file"
            assert httpx2.get(body[field]["url"], timeout=30).status_code == 200
    _check_the_books(third, key, finals)


def test_two_replicas_poll_the_same_jobs_without_doing_any_twice(cluster: Cluster) -> None:
    start_replicas, _ = cluster
    replicas = start_replicas(2)
    key = _new_key(replicas[0])
    jobs = {
        _create(
            replicas[i % 2], key["key"], "/v2/video/generations", {"model": "fake/video", "prompt": f"WAIT:{i % 3}"}
        ): ("/v2/video/generations")
        for i in range(40)
    }
    finals = _ended(replicas[1], key["key"], jobs, within_s=60)
    assert all(body["status"] == "completed" for body in finals.values())
    _check_the_books(replicas[0], key, finals)
