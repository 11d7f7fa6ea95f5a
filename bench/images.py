"""What the gateway adds to an image request, against a mock of OpenAI's images API, in one run.

    .venv/bin/python bench/images.py [--requests 200] [--json]

A mock upstream (aiohttp, in this process's thread) answers ``POST /v1/images/generations`` with
a recorded-shape OpenAI answer carrying one 64 KiB PNG as ``b64_json``. ``unigate serve`` runs on
a free port with ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` pointing at the mock. Three paths are
timed, sequentially, their requests interleaved so that the machine's drift falls on all three:

- ``direct``: the same JSON body straight to the mock;
- ``gateway b64_json``: ``dall-e-3`` through the gateway, the image inlined in the answer;
- ``gateway url``: the same, the image stored in the media store and a signed link returned.

The table gives the median and 90th percentile of each and the gateway's added milliseconds
over direct (figures as differences within one run: absolute ones are noisy). Progress goes to
stderr, the table (or with ``--json`` one JSON object) to stdout.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2
from aiohttp import web

if __package__ in (None, ""):  # run as a script: the repository root, for ``bench.processes``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.processes import in_thread, serving

MODEL = "dall-e-3"
IMAGE_BYTES = 64 * 1024


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _png(size: int) -> bytes:
    # A PNG signature and padding: the gateway reads the type from the first bytes, nothing more.
    return b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)


@contextmanager
def mock_upstream() -> Iterator[str]:
    """OpenAI's images endpoint, answering at once: its base URL."""
    answer = json.dumps(
        {"created": 1_700_000_000, "data": [{"b64_json": base64.b64encode(_png(IMAGE_BYTES)).decode()}]}
    ).encode()

    async def generations(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/images/generations", generations)
    with in_thread(app) as origin:
        yield f"{origin}/v1"


@contextmanager
def gateway(upstream: str) -> Iterator[tuple[str, str]]:
    """``unigate serve`` with OpenAI routed to ``upstream`` (no local models): URL and key."""
    env = {
        "UNIGATE_LOCAL_MODEL": "0",
        "UNIGATE_EMBEDDING_MODEL": "0",
        "UNIGATE_SPEECH_ENABLED": "0",
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": upstream,
    }
    with serving("images", env) as running:
        yield running


def _timed(client: httpx2.Client, url: str, body: Mapping[str, object]) -> float:
    started = time.perf_counter()
    r = client.post(url, json=body)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"POST {url}: HTTP {r.status_code}: {r.text[:500]}")
    return elapsed


def measure(requests: int) -> dict[str, dict[str, float]]:
    with mock_upstream() as upstream, gateway(upstream) as (url, key):
        direct = httpx2.Client(timeout=60)
        through = httpx2.Client(timeout=60, headers={"Authorization": f"Bearer {key}"})
        paths = {
            "direct": (direct, f"{upstream}/images/generations", {"model": MODEL, "prompt": "a lighthouse"}),
            "gateway b64_json": (
                through,
                f"{url}/v1/images/generations",
                {"model": MODEL, "prompt": "a lighthouse", "response_format": "b64_json"},
            ),
            "gateway url": (through, f"{url}/v1/images/generations", {"model": MODEL, "prompt": "a lighthouse"}),
        }
        for client, target, body in paths.values():  # warm: connections, the catalog's first schema load
            for _ in range(5):
                _timed(client, target, body)
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for i in range(requests):
            for name, (client, target, body) in paths.items():
                samples[name].append(_timed(client, target, body))
            if (i + 1) % 50 == 0:
                note(f"[images] {i + 1}/{requests} rounds")
    base = statistics.median(samples["direct"])
    out: dict[str, dict[str, float]] = {}
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        out[name] = {
            "median_ms": median * 1000,
            "p90_ms": values[int(len(values) * 0.9) - 1] * 1000,
            "added_ms": (median - base) * 1000,
        }
    return out


def render(results: dict[str, dict[str, float]]) -> str:
    lines = [
        f"image request, {IMAGE_BYTES // 1024} KiB PNG, mock OpenAI upstream",
        "",
        "path | median ms | p90 ms | added ms",
    ]
    lines += ["---|---|---|---"]
    for name, r in results.items():
        lines.append(f"{name} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} | {r['added_ms']:+.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = measure(args.requests)
    print(json.dumps(results) if args.json else render(results))


if __name__ == "__main__":
    main()
