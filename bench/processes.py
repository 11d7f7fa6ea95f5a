"""Starting and stopping the gateways a benchmark part runs: a free port, waiting for ``/health``,
and a stop that escalates to a kill."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["free_port", "health_ok", "in_thread", "serving", "stop", "wait_healthy"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_ok(port: int, *, any_status: bool = False) -> bool:
    """``GET /health`` answers 200 (with ``any_status``: answers at all)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/health")
        status = conn.getresponse().status
        return any_status or status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_healthy(
    port: int,
    process: subprocess.Popen[Any],
    *,
    timeout: float,
    poll_s: float = 0.05,
    log: Path | None = None,
    any_status: bool = False,
) -> None:
    """Until ``GET /health`` answers 200 (with ``any_status``: answers at all, for a server without
    that route, such as the floor); ``RuntimeError`` if the process exits or time runs out."""
    see = f"; see {log}" if log else ""
    deadline = time.perf_counter() + timeout
    while not health_ok(port, any_status=any_status):
        if process.poll() is not None:
            raise RuntimeError(f"the server on {port} exited with {process.returncode} before it was ready{see}")
        if time.perf_counter() > deadline:
            wanted = "an answer" if any_status else "a 200"
            raise RuntimeError(f"no {wanted} from /health on {port} within {timeout:.0f} s{see}")
        time.sleep(poll_s)


def stop(process: subprocess.Popen[Any], *, wait_s: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``wait_s``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serving(label: str, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``unigate serve`` on a free port with a temporary data folder, ``env`` added to this
    process's environment (its ``UNIGATE_*`` and ``OPENAI_*`` variables left out), and a key with
    ample credits: the gateway's URL and the key. Progress goes to stderr under ``label``."""
    with tempfile.TemporaryDirectory(prefix=f"unigate-bench-{label}-") as tmp:
        data = Path(tmp)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("UNIGATE_", "OPENAI_"))}
        full = base | {"UNIGATE_DATA_DIR": str(data), "UNIGATE_MANAGEMENT_KEY": "mk-bench"} | env
        cli = [sys.executable, "-m", "unigate"]
        created = subprocess.run(
            [*cli, "keys", "create", "--credits", str(10**13)], env=full, capture_output=True, text=True, check=True
        )
        port = free_port()
        log = data / "serve.log"
        print(f"[{label}] starting unigate serve on port {port} ...", file=sys.stderr, flush=True)
        with log.open("wb") as out:
            server = subprocess.Popen(
                [*cli, "serve", "--port", str(port)], env=full, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            try:
                wait_healthy(port, server, timeout=120, poll_s=0.1)
            except RuntimeError as exc:
                raise SystemExit(f"the gateway did not start ({exc}):\n{log.read_text()[-2000:]}") from None
            yield f"http://127.0.0.1:{port}", created.stdout.strip()
        finally:
            stop(server, wait_s=30)


@contextmanager
def in_thread(app: web.Application) -> Iterator[str]:
    """``app`` (a mock upstream, a sink) served on a free loopback port by a thread of its own:
    its origin, ``http://127.0.0.1:<port>``."""
    loop = asyncio.new_event_loop()
    port = free_port()
    runner = web.AppRunner(app, access_log=None)
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
