"""What 1,000 generation jobs in flight cost the gateway: the polls they send upstream and the
database work they make per minute, on SQLite and on PostgreSQL, in one run.

    .venv/bin/python bench/jobs.py [--jobs 1000] [--minutes 1] [--json] [--no-postgres]

For each store, in this process: the real store (a SQLite file; a fresh schema of the local
PostgreSQL), the real ``JobGateway`` and one ``JobPoller``, and a mock upstream that holds every
job ``generating`` for the whole window (``providers/fake_jobs.py``, polled on the timing a real
video upstream has: first after 10 s, growing to one poll every 30 s). ``--jobs`` creates are
fired at once; then the poller runs on the real clock for ``--minutes``. Then every job is
released (completed) and the time until all have been stored and settled is taken.

Reported per store: create latency (p50, p99, under the burst), upstream polls per minute, job
store calls per minute (claims, updates), the share of a minute spent waiting on them, and the
drain time. Figures compare within one run (absolute ones are noisy). Progress goes to stderr,
the table (or with ``--json`` one JSON object) to stdout. PostgreSQL is at
``UNIGATE_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root, for ``tests`` and ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core.media_doubles import MemoryMediaStore, TableDownloader

from unigate.accounts.store import ApiKey, Store
from unigate.catalog.catalog import Catalog
from unigate.core.gateway import Gateway
from unigate.core.job_flow import JobGateway
from unigate.core.job_poller import JobPoller
from unigate.core.jobs import GenerationRequest, JobKind, JobStatus, JobStore, JobTiming, Progress
from unigate.core.media_flow import MediaGateway
from unigate.core.services import Capabilities, Service, Services
from unigate.providers.fake_jobs import FAKE_JOB_MODELS, FakeJobs
from unigate.storage.factory import job_store

PG = os.environ.get("UNIGATE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
VIDEO_TIMING = JobTiming(first_s=10.0, factor=1.5, max_interval_s=30.0, deadline_s=3600.0)
"""As the real video runners poll (Veo, Seedance, Wan: 10 to 20 s first, 20 to 30 s at most)."""


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Counted:
    """A ``JobStore`` that counts its calls and the time spent waiting on them."""

    def __init__(self, inner: JobStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls[name] += 1

        return counted


class Released(FakeJobs):
    """The mock upstream: every job is generating until ``release``, then completes at once."""

    def __init__(self) -> None:
        super().__init__()
        self.timing = VIDEO_TIMING
        self.released = False

    def release(self) -> None:
        self.released = True

    async def poll(self, job: Any, model: Any) -> Any:
        if not self.released:
            self.polls += 1
            return Progress(JobStatus.GENERATING)
        return await super().poll(job, model)


@asynccontextmanager
async def opened(kind: str) -> AsyncIterator[Store]:
    if kind == "sqlite":
        from unigate.storage.sqlite.store import SqliteStore

        with tempfile.TemporaryDirectory(prefix="unigate-bench-jobs-") as tmp:
            store = SqliteStore(Path(tmp) / "jobs.db")
            await store.open()
            try:
                yield store
            finally:
                await store.close()
        return
    import asyncpg

    from unigate.storage.postgres.store import PostgresStore

    schema = f"bench_jobs_{os.getpid()}"
    admin = await asyncpg.connect(PG)
    await admin.execute(f"CREATE SCHEMA {schema}")
    pg = PostgresStore(f"{PG}?search_path={schema}", pool_size=10)
    try:
        await pg.open()
        yield pg
    finally:
        await pg.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _timed(call: Callable[[], Awaitable[Any]], into: list[float]) -> None:
    start = time.perf_counter()
    await call()
    into.append((time.perf_counter() - start) * 1000)


async def run(kind: str, jobs: int, minutes: float) -> dict[str, Any]:
    async with opened(kind) as store:
        runner = Released()
        capabilities = Capabilities(video=runner)
        services = Services([Service("fake", capabilities.modalities(), capabilities)])
        gateway = Gateway(catalog=Catalog(list(FAKE_JOB_MODELS)), services=services, store=store)
        media = MediaGateway(gateway, MemoryMediaStore(), TableDownloader({}), max_download_bytes=1 << 20)
        counted = Counted(job_store(store))
        flow = JobGateway(media, counted, replica="bench", lease_s=120.0)
        account = await store.create_account(name="bench", credits=jobs * 10_000)
        key: ApiKey = (await store.create_key(account_id=account, name="bench"))[0]
        request = GenerationRequest("fake/video", JobKind.VIDEO, "a wave", duration_s=5.0)
        note(f"[{kind}] creating {jobs} jobs at once")
        latencies: list[float] = []
        await asyncio.gather(*(_timed(lambda: flow.create(request, key), latencies) for _ in range(jobs)))
        counted.calls.clear()
        counted.seconds = 0.0
        poller = JobPoller(flow, tick_s=1.0, concurrency=64)
        polling = asyncio.create_task(poller.run())
        window = minutes * 60
        note(f"[{kind}] {jobs} jobs generating; polling for {window:.0f} s on the real clock")
        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.sleep(window)
        elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
        calls, waited, polls = dict(counted.calls), counted.seconds, runner.polls
        note(f"[{kind}] releasing every job; waiting until all are stored and settled")
        runner.release()
        drain_start = time.perf_counter()
        while await counted.inner.count_jobs([JobStatus.QUEUED, JobStatus.GENERATING]):  # noqa: ASYNC110 (the rows are the truth)
            await asyncio.sleep(0.5)
        drain = time.perf_counter() - drain_start
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await poller.stop()
        per_minute = 60 / elapsed
        return {
            "store": kind,
            "jobs": jobs,
            "create_p50_ms": round(statistics.median(latencies), 1),
            "create_p99_ms": round(_percentile(latencies, 0.99), 1),
            "polls_per_min": round(polls * per_minute),
            "claims_per_min": round(calls.get("claim_jobs", 0) * per_minute),
            "updates_per_min": round(calls.get("update_job", 0) * per_minute),
            "store_wait_s_per_min": round(waited * per_minute, 2),
            "cpu_s_per_min": round(cpu_used * per_minute, 2),
            "drain_s": round(drain, 1),
        }


def table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite"] if args.no_postgres else ["sqlite", "postgres"]
    rows = [asyncio.run(run(kind, args.jobs, args.minutes)) for kind in kinds]
    print(json.dumps(rows) if args.json else table(rows))


if __name__ == "__main__":
    main()
