"""Workers scaling with the load (part of ``bench/speed.py``): one worker serving 32 clients against
two workers serving 64, on PostgreSQL + Redis, routed to the shared harness's mock upstream.

The harness's ``unigate-pg-w2`` target gives two workers the same 32 clients as one: each worker
then has half the requests in flight, its batches to PostgreSQL and Redis are half as large, and
its CPU per request rises for that alone. Scaling out means N workers for N times the load, so
this part gives the 2-worker gateway twice the clients and compares the gateway CPU per request
(the process tree's user + system time over the measured seconds, divided by the requests) with
one worker's. Runs alternate (1, 2, 1, 2, ...) so that a drift of the shared machine touches
both; each figure is the median of its runs. Placement as in the harness: the mock and the load
generator on the first core, one worker on the second, two workers on both.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.processes import free_port, stop, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-bench-1"
CLIENTS_PER_WORKER = 32


@dataclass(frozen=True, slots=True)
class Sample:
    workers: int
    clients: int
    requests: int
    errors: int
    cpu_s: float
    seconds: float

    @property
    def cpu_ms_per_req(self) -> float | None:
        return 1000 * self.cpu_s / self.requests if self.requests else None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def tree_cpu_s(root: int) -> float:
    """User + system seconds of ``root`` and its descendants (those alive now)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    ticks, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
        stack += children.get(pid, [])
    return ticks / os.sysconf("SC_CLK_TCK")


def _pin(argv: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus and shutil.which("taskset") else argv


def _load(harness: Path, url: str, clients: int, seconds: float, cpus: str | None) -> tuple[int, int]:
    """Closed-loop non-stream load; (requests, errors). wrk when installed, else the harness's
    Python load generator (which needs more CPU per request on the load core)."""
    if shutil.which("wrk"):
        argv = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
        argv += ["-s", str(harness / "wrk_post.lua"), url]
        env = {**os.environ, "WRK_MODEL": "mock", "WRK_STREAM": "0", "WRK_KEY": KEY}
        out = subprocess.run(_pin(argv, cpus), env=env, capture_output=True, text=True, timeout=seconds + 60)
        line = next((x for x in out.stdout.splitlines() if x.startswith("JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result: {(out.stdout + out.stderr)[-400:]}")
        result = json.loads(line[5:])
        errors = sum(int(v) for k, v in result.items() if k.startswith("errors"))
        return int(result["requests"]), errors
    argv = [sys.executable, str(harness / "loadgen.py"), "--url", url, "--key", KEY, "--model", "mock"]
    argv += ["--concurrency", str(clients), "--duration", str(seconds), "--warmup", "0", "--timeout", "30"]
    out = subprocess.run(_pin(argv, cpus), capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"the load generator failed: {out.stderr[-400:]}")
    result = json.loads(out.stdout)
    return int(result["requests"]), int(result["errors"])


def measure(
    *,
    harness: Path,
    database_url: Callable[[int, int], str],
    redis_url: str,
    redis_prefix: Callable[[int, int], str],
    seconds: float,
    warmup: float,
    runs: int,
    load_cpus: str | None,
    worker_cpus: dict[int, str | None],
    log: Path,
) -> list[Sample]:
    """``runs`` runs each of 1 worker with 32 clients and 2 with 64, alternating. ``database_url``
    and ``redis_prefix`` give a fresh schema and prefix for (workers, run)."""
    mock_port = free_port()
    upstream = f"http://127.0.0.1:{mock_port}/v1"
    samples: list[Sample] = []
    with log.open("ab") as out:
        mock = subprocess.Popen(
            _pin([sys.executable, str(harness / "mock_upstream.py"), "--port", str(mock_port)], load_cpus),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            for run in range(runs):
                for workers in (1, 2):
                    port = free_port()
                    argv = [sys.executable, str(ROOT / "bench" / "serve_target.py"), "--port", str(port)]
                    argv += ["--upstream", upstream, "--workers", str(workers)]
                    argv += ["--database-url", database_url(workers, run), "--redis-url", redis_url]
                    argv += ["--redis-prefix", redis_prefix(workers, run)]
                    gateway = subprocess.Popen(_pin(argv, worker_cpus[workers]), stdout=out, stderr=subprocess.STDOUT)
                    try:
                        wait_healthy(port, gateway, timeout=90)
                        url = f"http://127.0.0.1:{port}/v1/chat/completions"
                        clients = CLIENTS_PER_WORKER * workers
                        if warmup > 0:
                            _load(harness, url, clients, warmup, load_cpus)
                        before, started = tree_cpu_s(gateway.pid), time.monotonic()
                        requests, errors = _load(harness, url, clients, seconds, load_cpus)
                        cpu, wall = tree_cpu_s(gateway.pid) - before, time.monotonic() - started
                        samples.append(Sample(workers, clients, requests, errors, cpu, wall))
                    finally:
                        stop(gateway)
        finally:
            stop(mock)
    return samples


def efficiency(samples: list[Sample]) -> tuple[float | None, str]:
    """1-worker CPU ms/req ÷ 2-worker (medians), and a detail line."""
    per = {w: [s.cpu_ms_per_req for s in samples if s.workers == w and s.cpu_ms_per_req] for w in (1, 2)}
    if not per[1] or not per[2] or any(s.errors for s in samples):
        errors = sum(s.errors for s in samples)
        return None, f"failed: {errors} errors" if errors else "failed: no requests completed"
    one, two = statistics.median(per[1]), statistics.median(per[2])
    rps = {w: statistics.median(s.rps for s in samples if s.workers == w) for w in (1, 2)}
    runs = ", ".join(f"{s.workers}w {s.cpu_ms_per_req:.3f}" for s in samples)
    return one / two, f"{one:.3f} vs {two:.3f} gateway CPU ms/req; {rps[1]:.0f} / {rps[2]:.0f} req/s; runs: {runs}"
