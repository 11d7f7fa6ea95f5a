"""What OpenTelemetry tracing costs a request, in one run: two gateways side by side, one with
tracing off (the default) and one exporting every trace over OTLP/HTTP to a sink in this process.

    .venv/bin/python bench/tracing.py [--requests 300] [--json]

Both gateways serve the deterministic fake chat model (no upstream, no delay), so what differs is
the tracing alone: the spans of every step, their attributes, the batch exporter. Requests are
interleaved, round by round, so that the machine's drift falls on both. The table gives each
path's median and 90th percentile and the added milliseconds of "on" over "off" (figures as
differences within one run: absolute ones are noisy); the sink's count says the traces arrived.
Progress goes to stderr, the table (or with ``--json`` one JSON object) to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from aiohttp import web

if __package__ in (None, ""):  # run as a script: the repository root, for ``bench.processes``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.processes import in_thread, serving

BODY = {"model": "fake/echo", "messages": [{"role": "user", "content": "one two three four"}], "max_tokens": 8}
FAKE = {"UNIGATE_LOCAL_MODEL": "0", "UNIGATE_EMBEDDING_MODEL": "0", "UNIGATE_SPEECH_ENABLED": "0"}


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Sink:
    """An OTLP/HTTP receiver that takes every export and counts the bytes and calls."""

    def __init__(self) -> None:
        self.exports = 0
        self.bytes = 0


@contextmanager
def otlp_sink() -> Iterator[tuple[str, Sink]]:
    sink = Sink()

    async def traces(request: web.Request) -> web.Response:
        sink.bytes += len(await request.read())
        sink.exports += 1
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    with in_thread(app) as origin:
        yield origin, sink


def _timed(client: httpx2.Client, url: str) -> float:
    started = time.perf_counter()
    r = client.post(url, json=BODY)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"POST {url}: HTTP {r.status_code}: {r.text[:300]}")
    return elapsed


def measure(requests: int) -> dict[str, object]:
    off_env = FAKE | {"UNIGATE_FAKE_MODELS": "1", "OTEL_SDK_DISABLED": "true"}
    with otlp_sink() as (endpoint, sink), serving("tracing-off", off_env) as (off_url, off_key):
        on_env = FAKE | {"UNIGATE_FAKE_MODELS": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        with serving("tracing-on", on_env) as (on_url, on_key):
            clients = {
                "off": (httpx2.Client(timeout=30, headers={"Authorization": f"Bearer {off_key}"}), off_url),
                "on": (httpx2.Client(timeout=30, headers={"Authorization": f"Bearer {on_key}"}), on_url),
            }
            for client, url in clients.values():  # warm: connections, the first request's imports
                for _ in range(10):
                    _timed(client, f"{url}/v1/chat/completions")
            samples: dict[str, list[float]] = {name: [] for name in clients}
            for i in range(requests):
                for name, (client, url) in clients.items():
                    samples[name].append(_timed(client, f"{url}/v1/chat/completions"))
                if (i + 1) % 100 == 0:
                    note(f"[tracing] {i + 1}/{requests} rounds")
        # The "on" gateway has stopped: its last batch was flushed at shutdown.
        exports = sink.exports
    out: dict[str, object] = {}
    for name, values in samples.items():
        values.sort()
        out[name] = {
            "median_ms": round(statistics.median(values) * 1000, 2),
            "p90_ms": round(values[int(0.9 * len(values))] * 1000, 2),
        }
    off_median = statistics.median(samples["off"])
    out["added_ms"] = round((statistics.median(samples["on"]) - off_median) * 1000, 2)
    out["exports"] = exports
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.requests)
    if args.json:
        print(json.dumps(result))
        return
    print("| tracing | median ms | p90 ms |")
    print("|---|---|---|")
    for name in ("off", "on"):
        row = result[name]
        assert isinstance(row, dict)
        print(f"| {name} | {row['median_ms']} | {row['p90_ms']} |")
    added, exports = result["added_ms"], result["exports"]
    print(f"\nadded by tracing on: {added} ms per request (median); OTLP exports received: {exports}")


if __name__ == "__main__":
    main()
