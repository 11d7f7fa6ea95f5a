"""Tokens per second of the embedded SmolLM2 model: through the gateway at each concurrency level,
and through ``llama-cpp-python`` called directly, in the same run, with the same prompt and settings.

    .venv/bin/python bench/local_model.py [--requests 5] [--max-tokens 128] [--concurrency 1,8] [--json]

It starts ``unigate serve`` on a free port with a temporary data folder, creates a key, warms both
paths up, then measures them one after the other (never at the same time, so they don't compete
for the cores): the gateway non-streaming and streaming at each concurrency level, then
``create_chat_completion`` sequentially. At concurrency ``c`` it sends ``max(requests, c)``
requests from ``c`` concurrent clients; tokens/s is the total of completion tokens over the wall
time. Greedy decoding makes both paths generate the same tokens. Progress goes to stderr, the
figures to stdout (a table, or with ``--json`` one JSON object, as ``bench/speed.py`` reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import orjson

if __package__ in (None, ""):  # run as a script: the repository root, for ``bench.processes``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.processes import free_port, stop, wait_healthy


def prompt(i: int) -> list[dict[str, str]]:
    """Request ``i``'s messages. They differ from the first word on, so that neither path serves a
    request from the KV cache of the one before (llama-cpp-python keeps the longest cached prefix;
    unigate reuses whole 64-token chunks only, for deterministic output)."""
    return [
        {"role": "system", "content": f"Session {i}. You are a storyteller."},
        {"role": "user", "content": "Tell a long story about a lighthouse keeper and a storm."},
    ]


MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def direct(requests: int, max_tokens: int, n_ctx: int, n_threads: int) -> tuple[int, float]:
    """Completion tokens and seconds for ``requests`` sequential calls of ``create_chat_completion``."""
    from llama_cpp import Llama

    from unigate.providers.local.engine import default_model_path

    llm = Llama(model_path=str(default_model_path()), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
    llm.create_chat_completion(messages=prompt(-1), max_tokens=8, temperature=0)  # type: ignore[arg-type]
    tokens, started = 0, time.perf_counter()
    for i in range(requests):
        out: Any = llm.create_chat_completion(messages=prompt(i), max_tokens=max_tokens, temperature=0)  # type: ignore[arg-type]
        tokens += out["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - started


async def through_gateway(
    url: str, key: str, *, requests: int, max_tokens: int, concurrency: int, stream: bool
) -> tuple[int, float]:
    """Completion tokens and wall seconds of ``requests`` requests sent by ``concurrency`` clients,
    each starting its next request as soon as its previous one ends."""
    base: dict[str, Any] = {"model": MODEL, "max_tokens": max_tokens, "temperature": 0}
    if stream:
        base |= {"stream": True, "stream_options": {"include_usage": True}}
    headers = {"Authorization": f"Bearer {key}"}

    async def one(client: httpx2.AsyncClient, i: int) -> int:
        body = base | {"messages": prompt(i)}
        if not stream:
            r = await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"request {i}: HTTP {r.status_code}: {r.text[:500]}")
            return int(r.json()["usage"]["completion_tokens"])
        used = 0
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as r:
            if r.status_code != 200:
                raise RuntimeError(f"request {i}: HTTP {r.status_code}: {(await r.aread())[:500]!r}")
            # Read as it arrives, parse at the end: the client shares the cores with the model, and
            # splitting every token's frame into lines here would be counted against the gateway.
            received = [chunk async for chunk in r.aiter_raw()]
            for line in b"".join(received).split(b"\n"):
                if line.startswith(b"data: {") and b'"usage"' in line and b'"choices":[]' in line:
                    used = int(orjson.loads(line[6:])["usage"]["completion_tokens"])
        if not used:
            raise RuntimeError("the stream carried no usage frame")
        return used

    todo = iter(range(requests))

    async def client_loop(client: httpx2.AsyncClient) -> int:
        return sum([await one(client, i) for i in todo])

    limits = httpx2.Limits(max_connections=concurrency + 1)
    async with httpx2.AsyncClient(timeout=600, limits=limits) as client:
        await one(client, -1)  # warm-up
        started = time.perf_counter()
        done = await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        return sum(done), time.perf_counter() - started


def measure(
    *, requests: int, max_tokens: int, concurrencies: list[int], instances: int, n_ctx: int, threads: int
) -> list[dict[str, Any]]:
    """One row per measurement: path, concurrency, stream, requests, tokens, seconds, tokens_per_s."""
    rows: list[dict[str, Any]] = []

    def add(path: str, concurrency: int, stream: bool, sent: int, tokens: int, seconds: float) -> None:
        rate = tokens / seconds if seconds > 0 else None
        rows.append(
            {
                "path": path,
                "concurrency": concurrency,
                "stream": stream,
                "requests": sent,
                "tokens": tokens,
                "seconds": round(seconds, 3),
                "tokens_per_s": None if rate is None else round(rate, 1),
            }
        )

    with tempfile.TemporaryDirectory(prefix="unigate-bench-local-") as tmp:
        data = Path(tmp)
        config = data / "bench.toml"
        config.write_text(f"[local]\nn_ctx = {n_ctx}\ninstances = {instances}\nn_threads = {threads}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNIGATE_")}
        env |= {"UNIGATE_DATA_DIR": str(data), "UNIGATE_MANAGEMENT_KEY": "mk-bench"}
        cli = [sys.executable, "-m", "unigate"]
        key = subprocess.run(
            [*cli, "keys", "create", "--credits", str(10**12), "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        note(f"[local model] starting unigate serve on {url} ...")
        log = data / "serve.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [*cli, "serve", "--port", str(port), "--config", str(config)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            try:
                wait_healthy(port, server, timeout=120, poll_s=0.1)
            except RuntimeError as exc:
                raise SystemExit(f"the gateway did not start ({exc}):\n{log.read_text()[-2000:]}") from None
            for concurrency in concurrencies:
                sent = max(requests, concurrency)
                for stream in (False, True):
                    label = f"gateway {'stream' if stream else 'non-stream'} c={concurrency}"
                    note(f"[local model] measuring {label} ({sent} requests x {max_tokens} tokens) ...")
                    tokens, seconds = asyncio.run(
                        through_gateway(
                            url, key, requests=sent, max_tokens=max_tokens, concurrency=concurrency, stream=stream
                        )
                    )
                    add("gateway", concurrency, stream, sent, tokens, seconds)
        finally:
            stop(server, wait_s=30)
        note(f"[local model] measuring llama-cpp-python directly ({requests} requests) ...")
        tokens, seconds = direct(requests, max_tokens, n_ctx, threads)
        add("direct", 1, False, requests, tokens, seconds)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    base = next(r["tokens_per_s"] for r in rows if r["path"] == "direct")
    lines = [f"{'path':<34} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'vs direct':>9}"]
    for r in rows:
        if r["path"] == "direct":
            label = "llama-cpp-python direct c=1"
        else:
            label = f"gateway {'stream' if r['stream'] else 'non-stream'} c={r['concurrency']}"
        rate = r["tokens_per_s"]
        ratio = f"{rate / base:.2f}" if rate and base else "-"
        lines.append(f"{label:<34} {r['tokens']:>7} {r['seconds']:>8.2f} {rate or 0:>9.1f} {ratio:>9}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5, help="requests per measurement (at least the concurrency)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument(
        "--concurrency", default="1,8", help="comma-separated concurrent gateway requests (direct is sequential)"
    )
    ap.add_argument("--instances", type=int, default=1, help="[local] instances of the gateway's model")
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="llama.cpp threads, both paths")
    ap.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the gateway on the way out
    try:
        concurrencies = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        ap.error("--concurrency wants numbers separated by commas, e.g. 1,8")
    if args.requests < 1 or min(concurrencies) < 1:
        ap.error("--requests and --concurrency must be at least 1")

    rows = measure(
        requests=args.requests,
        max_tokens=args.max_tokens,
        concurrencies=concurrencies,
        instances=args.instances,
        n_ctx=args.n_ctx,
        threads=args.threads,
    )
    if args.json:
        print(json.dumps({"model": MODEL, "max_tokens": args.max_tokens, "threads": args.threads, "rows": rows}))
    else:
        print(render(rows), end="")


if __name__ == "__main__":
    main()
