"""Workers scaling (part of ``bench/speed.py``): one worker serving 32 clients against two workers
serving 64 (the load scaled with the workers) and 32 (the same load), on PostgreSQL + Redis, routed
to the shared harness's mock upstream.

With the same 32 clients each of two workers has half the requests in flight, its batches to
PostgreSQL and Redis are half as large, and its CPU per request rises for that alone (one worker
on a core of its own, measured apart: about a quarter more at 16 clients than at 32, two thirds
more at 8, where the floor's barely moves); one of the two workers also shares its core with the
load generator. Scaling out means N workers for N times the load, so 64 clients is the criterion and
32 is printed beside it.
Each compares the gateway CPU per request (the process tree's user + system time over the
measured seconds, divided by the requests) with one worker's. Runs alternate (1, 2, 1, 2, ...)
so that a drift of the shared machine touches both, and the 2-worker gateway takes its two loads
in turns (64 then 32, then 32 then 64); each figure is the median of its runs. Placement as in
the harness: the mock and the load generator on the first core, one worker on the second, two
workers on both.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.load import closed_loop, pin
from bench.processes import free_port, stop, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
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
    """``runs`` runs each of 1 worker (32 clients) and 2 (64 and 32 clients), alternating.
    ``database_url`` and ``redis_prefix`` give a fresh schema and prefix for (workers, run)."""
    mock_port = free_port()
    upstream = f"http://127.0.0.1:{mock_port}/v1"
    samples: list[Sample] = []
    with log.open("ab") as out:
        mock = subprocess.Popen(
            pin([sys.executable, str(harness / "mock_upstream.py"), "--port", str(mock_port)], load_cpus),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            for run in range(runs):
                for workers in (1, 2):
                    loads = [CLIENTS_PER_WORKER * w for w in range(workers, 0, -1)]  # 1: [32]; 2: [64, 32]
                    if run % 2:
                        loads.reverse()
                    port = free_port()
                    argv = [sys.executable, str(ROOT / "bench" / "serve_target.py"), "--port", str(port)]
                    argv += ["--upstream", upstream, "--workers", str(workers)]
                    argv += ["--database-url", database_url(workers, run), "--redis-url", redis_url]
                    argv += ["--redis-prefix", redis_prefix(workers, run)]
                    gateway = subprocess.Popen(pin(argv, worker_cpus[workers]), stdout=out, stderr=subprocess.STDOUT)
                    try:
                        wait_healthy(port, gateway, timeout=90)
                        url = f"http://127.0.0.1:{port}/v1/chat/completions"
                        for clients in loads:
                            if warmup > 0:
                                closed_loop(harness, url, clients=clients, seconds=warmup, cpus=load_cpus)
                            before, started = tree_cpu_s(gateway.pid), time.monotonic()
                            load = closed_loop(harness, url, clients=clients, seconds=seconds, cpus=load_cpus)
                            cpu, wall = tree_cpu_s(gateway.pid) - before, time.monotonic() - started
                            samples.append(Sample(workers, clients, load.requests, load.errors, cpu, wall))
                    finally:
                        stop(gateway)
        finally:
            stop(mock)
    return samples


def efficiency(samples: list[Sample], clients: int) -> tuple[float | None, str]:
    """1-worker CPU ms/req ÷ 2-worker with ``clients`` clients (medians), and a detail line."""
    picked = {
        1: [s for s in samples if s.workers == 1],
        2: [s for s in samples if s.workers == 2 and s.clients == clients],
    }
    per = {w: [s.cpu_ms_per_req for s in picked[w] if s.cpu_ms_per_req] for w in (1, 2)}
    if not per[1] or not per[2] or any(s.errors for s in samples):
        errors = sum(s.errors for s in samples)
        return None, f"failed: {errors} errors" if errors else "failed: no requests completed"
    one, two = statistics.median(per[1]), statistics.median(per[2])
    rps = {w: statistics.median(s.rps for s in picked[w]) for w in (1, 2)}
    runs = ", ".join(f"{s.workers}w {s.cpu_ms_per_req:.3f}" for s in (*picked[1], *picked[2]))
    return one / two, f"{one:.3f} vs {two:.3f} gateway CPU ms/req; {rps[1]:.0f} / {rps[2]:.0f} req/s; runs: {runs}"
