"""Tokens per second of the embedded SmolLM2 model: through the gateway and through
``llama-cpp-python`` called directly, in the same run, with the same prompt and settings.

    .venv/bin/python bench/local_model.py [--requests 5] [--max-tokens 128] [--concurrency 1]

It starts ``unigate serve`` on a free port with a temporary data folder, creates a key, warms both
paths up, then measures them one after the other (never at the same time, so they don't compete
for the cores). Greedy decoding makes both generate the same tokens. Progress goes to stderr,
the figures to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    base: dict[str, Any] = {"model": MODEL, "max_tokens": max_tokens, "temperature": 0}
    if stream:
        base |= {"stream": True, "stream_options": {"include_usage": True}}
    headers = {"Authorization": f"Bearer {key}"}
    tokens = 0

    async def one(client: httpx2.AsyncClient, i: int) -> int:
        body = base | {"messages": prompt(i)}
        if not stream:
            r = await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
            r.raise_for_status()
            return int(r.json()["usage"]["completion_tokens"])
        used = 0
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if line.startswith("data: {") and '"usage"' in line and '"choices":[]' in line:
                    import orjson

                    used = int(orjson.loads(line[6:])["usage"]["completion_tokens"])
        return used

    async with httpx2.AsyncClient(timeout=600) as client:
        await one(client, -1)  # warm-up
        started = time.perf_counter()
        for first in range(0, requests, concurrency):
            done = await asyncio.gather(*(one(client, first + j) for j in range(concurrency)))
            tokens += sum(done)
        return tokens, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--concurrency", type=int, default=1, help="concurrent gateway requests (direct is sequential)")
    ap.add_argument("--instances", type=int, default=1, help="[local] instances of the gateway's model")
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="llama.cpp threads, both paths")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        config = data / "bench.toml"
        config.write_text(f"[local]\nn_ctx = {args.n_ctx}\ninstances = {args.instances}\nn_threads = {args.threads}\n")
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
        note(f"starting unigate serve on {url} ...")
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the gateway did not start")
                time.sleep(0.2)
            rows: list[tuple[str, int, float]] = []
            for stream in (False, True):
                label = f"gateway {'stream' if stream else 'non-stream'} c={args.concurrency}"
                note(f"measuring {label} ({args.requests} requests x {args.max_tokens} tokens) ...")
                tokens, seconds = asyncio.run(
                    through_gateway(
                        url,
                        key,
                        requests=args.requests,
                        max_tokens=args.max_tokens,
                        concurrency=args.concurrency,
                        stream=stream,
                    )
                )
                rows.append((label, tokens, seconds))
        finally:
            server.terminate()
            server.wait(30)
        note(f"measuring llama-cpp-python directly ({args.requests} requests) ...")
        tokens, seconds = direct(args.requests, args.max_tokens, args.n_ctx, args.threads)
        rows.append(("llama-cpp-python direct c=1", tokens, seconds))

    base = rows[-1][1] / rows[-1][2]
    print(f"{'path':<34} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'vs direct':>9}")
    for label, tokens, seconds in rows:
        rate = tokens / seconds
        print(f"{label:<34} {tokens:>7} {seconds:>8.2f} {rate:>9.1f} {rate / base:>9.2f}")


if __name__ == "__main__":
    main()
