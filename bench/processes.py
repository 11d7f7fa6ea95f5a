"""Starting and stopping the gateways a benchmark part runs: a free port, waiting for ``/health``,
and a stop that escalates to a kill."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["free_port", "health_ok", "stop", "wait_healthy"]


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
