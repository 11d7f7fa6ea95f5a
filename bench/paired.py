"""The floor and unigate side by side in alternating windows (part of ``bench/speed.py``).

The shared harness measures each target once, in cells minutes apart. On a shared VM the
machine drifts between those cells by more than the differences of interest: one harness run on
this project's machine put unigate's non-stream c=32 at 0.74 of the floor, the next, 20 minutes
later, at 0.34, with the floor's own CPU per request moving from 0.247 to 0.161 ms while no code
changed. So this part keeps both gateways up at once, on the same core, and measures them in
turns:

* ``rounds`` rounds of a non-stream and a stream window (wrk, 32 clients, ``seconds`` each) per
  gateway, the order swapped every round; each round gives one unigate ÷ floor ratio per mode,
  and the figure is the median of the rounds' ratios;
* time to first token with one client, paced upstream frames (10 ms apart, as the harness's
  paced cell), one request to each gateway in turn, ``pairs`` pairs in all; the added time is
  unigate's median minus the floor's (the harness's definition), over interleaved requests.

Placement as in the harness: the mock and the load on the first core, the gateway under load
on the second (the idle one waits on the same core and costs nothing measurable). unigate runs on
SQLite through the real pipeline (``bench/serve_target.py``).

    python -m bench.paired --ttft-client URL URL PAIRS    # the TTFT client (run pinned, by measure)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import KEY, closed_loop, pin
from bench.processes import free_port, stop, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
FLOOR, UNIGATE = "floor", "unigate"
MODES = ("nonstream", "stream")


@dataclass(slots=True)
class Paired:
    rps: dict[str, dict[str, list[float]]] = field(default_factory=lambda: {m: {FLOOR: [], UNIGATE: []} for m in MODES})
    """req/s per mode and gateway, one per round (rounds in order)."""
    ttft_ms: dict[str, list[float]] = field(default_factory=lambda: {FLOOR: [], UNIGATE: []})
    errors: int = 0

    def ratio(self, mode: str) -> tuple[float | None, str]:
        """The median over rounds of unigate ÷ floor req/s, and a detail line."""
        pairs = list(zip(self.rps[mode][UNIGATE], self.rps[mode][FLOOR], strict=True))
        ratios = [u / f for u, f in pairs if f]
        if not ratios:
            return None, "no rounds"
        runs = ", ".join(f"{r:.2f}" for r in ratios)
        u, f = statistics.median(self.rps[mode][UNIGATE]), statistics.median(self.rps[mode][FLOOR])
        return statistics.median(ratios), f"median of {len(ratios)} rounds: {runs}; req/s medians {u:.0f} / {f:.0f}"

    def added_ttft(self) -> tuple[float | None, str]:
        """unigate's TTFT median minus the floor's (ms), and a detail line."""
        mine, floor = self.ttft_ms[UNIGATE], self.ttft_ms[FLOOR]
        if not mine or not floor:
            return None, "no samples"
        m, f = statistics.median(mine), statistics.median(floor)
        diffs = statistics.median(a - b for a, b in zip(mine, floor, strict=True))
        return m - f, f"{m:.2f} - {f:.2f} ms, {len(mine)} interleaved pairs; median paired difference {diffs:.2f} ms"


def measure(
    *,
    harness: Path,
    seconds: float,
    warmup: float,
    rounds: int,
    pairs: int,
    load_cpus: str | None,
    gateway_cpus: str | None,
    log: Path,
) -> Paired:
    mock_port, floor_port, unigate_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{mock_port}/v1"
    py = sys.executable
    result = Paired()
    with log.open("ab") as out:

        def start(argv: list[str], cpus: str | None) -> subprocess.Popen[bytes]:
            return subprocess.Popen(pin(argv, cpus), stdout=out, stderr=subprocess.STDOUT)

        processes = [start([py, str(harness / "mock_upstream.py"), "--port", str(mock_port)], load_cpus)]
        try:
            floor_argv = [py, str(harness / "thin_proxy_aiohttp.py"), "--port", str(floor_port)]
            floor_argv += ["--upstream", upstream, "--key", KEY]
            processes.append(start(floor_argv, gateway_cpus))
            unigate_argv = [py, str(ROOT / "bench" / "serve_target.py"), "--port", str(unigate_port)]
            unigate_argv += ["--upstream", upstream]
            processes.append(start(unigate_argv, gateway_cpus))
            wait_healthy(floor_port, processes[1], timeout=30, log=log, any_status=True)  # the floor has no /health
            wait_healthy(unigate_port, processes[2], timeout=90, log=log)
            urls = {
                FLOOR: f"http://127.0.0.1:{floor_port}/v1/chat/completions",
                UNIGATE: f"http://127.0.0.1:{unigate_port}/v1/chat/completions",
            }
            if warmup > 0:
                for url in urls.values():
                    for mode in MODES:
                        closed_loop(harness, url, clients=32, seconds=warmup, cpus=load_cpus, stream=mode == "stream")
            for n in range(rounds):
                order = (FLOOR, UNIGATE) if n % 2 == 0 else (UNIGATE, FLOOR)
                for mode in MODES:
                    for name in order:
                        load = closed_loop(
                            harness, urls[name], clients=32, seconds=seconds, cpus=load_cpus, stream=mode == "stream"
                        )
                        result.rps[mode][name].append(load.rps)
                        result.errors += load.errors
                ttft = _ttft(urls[order[0]], urls[order[1]], max(1, pairs // rounds), load_cpus)
                for name, samples in zip(order, ttft, strict=True):
                    result.ttft_ms[name] += samples
                last = {m: (result.rps[m][UNIGATE][-1], result.rps[m][FLOOR][-1]) for m in MODES}
                ratios = "  ".join(f"{m} {u / f:.2f}" if f else f"{m} -" for m, (u, f) in last.items())
                print(f"[paired] round {n + 1}/{rounds}: unigate ÷ floor {ratios}", file=sys.stderr, flush=True)
        finally:
            for p in reversed(processes):
                stop(p)
    return result


def _ttft(first: str, second: str, pairs: int, cpus: str | None) -> tuple[list[float], list[float]]:
    """TTFT samples (ms) of ``first`` and ``second``, one request to each in turn."""
    argv = pin([sys.executable, "-m", "bench.paired", "--ttft-client", first, second, str(pairs)], cpus)
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60 + pairs)
    if out.returncode != 0:
        raise RuntimeError(f"the TTFT client failed: {out.stderr[-400:]}")
    a, b = json.loads(out.stdout)
    return a, b


async def _ttft_client(urls: list[str], pairs: int) -> list[list[float]]:
    import aiohttp  # the gateway's own dependency; only the client process needs it

    user = "Say hello. " * 20 + "[paced]"  # the harness's paced request
    body = json.dumps(
        {
            "model": "mock",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": user},
            ],
            "max_tokens": 64,
            "stream": True,
        }
    ).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    samples: list[list[float]] = [[] for _ in urls]
    async with aiohttp.ClientSession() as session:

        async def one(url: str) -> float:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}: {await response.text()}")
                async for line in response.content:
                    # The first frame with text, as the harness's loadgen counts it.
                    if line.startswith(b"data:") and b'"content":"' in line and b'"content":""' not in line:
                        return (time.perf_counter() - started) * 1000
            raise RuntimeError(f"{url} sent no content")

        for url in urls:  # a connection to each, and each gateway's first-request work, not measured
            await one(url)
        for _ in range(pairs):
            for i, url in enumerate(urls):
                samples[i].append(await one(url))
    return samples


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--ttft-client":
        print(json.dumps(asyncio.run(_ttft_client(sys.argv[2:4], int(sys.argv[4])))))
    else:
        sys.exit(__doc__)
