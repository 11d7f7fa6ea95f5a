"""Closed-loop load with the shared harness's tools, for the benchmark parts that run their own
windows (``bench/scaling.py``, ``bench/paired.py``): wrk with the harness's ``wrk_post.lua`` when
wrk is installed, else the harness's ``loadgen.py`` (which needs more CPU per request on the load
core). The request is the harness's: model ``mock``, key ``sk-bench-1``, a system and a user
message, ``max_tokens`` 64."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KEY", "Load", "closed_loop", "pin"]

KEY = "sk-bench-1"


@dataclass(frozen=True, slots=True)
class Load:
    requests: int
    errors: int
    rps: float


def pin(argv: list[str], cpus: str | None) -> list[str]:
    """``argv`` run on ``cpus`` (``taskset``), or as is without cpus or taskset."""
    return ["taskset", "-c", cpus, *argv] if cpus and shutil.which("taskset") else argv


def closed_loop(
    harness: Path, url: str, *, clients: int, seconds: float, cpus: str | None, stream: bool = False
) -> Load:
    """``clients`` keep-alive clients sending back to back to ``url`` for ``seconds``."""
    if shutil.which("wrk"):
        argv = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
        argv += ["-s", str(harness / "wrk_post.lua"), url]
        env = {**os.environ, "WRK_MODEL": "mock", "WRK_STREAM": "1" if stream else "0", "WRK_KEY": KEY}
        out = subprocess.run(pin(argv, cpus), env=env, capture_output=True, text=True, timeout=seconds + 60)
        line = next((x for x in out.stdout.splitlines() if x.startswith("JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result: {(out.stdout + out.stderr)[-400:]}")
        result = json.loads(line[5:])
        errors = sum(int(v) for k, v in result.items() if k.startswith("errors"))
        return Load(int(result["requests"]), errors, float(result["rps"]))
    argv = [sys.executable, str(harness / "loadgen.py"), "--url", url, "--key", KEY, "--model", "mock"]
    argv += ["--concurrency", str(clients), "--duration", str(seconds), "--warmup", "0", "--timeout", "30"]
    argv += ["--stream"] if stream else []
    out = subprocess.run(pin(argv, cpus), capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"the load generator failed: {out.stderr[-400:]}")
    result = json.loads(out.stdout)
    return Load(int(result["requests"]), int(result["errors"]), float(result["rps"] or 0))
