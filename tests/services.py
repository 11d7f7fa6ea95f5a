"""PostgreSQL and Redis for the tests marked ``services``: where they are, a schema and a key
prefix of their own per test, and real ``unigate serve`` processes ("replicas") on them.

The services are looked for at 127.0.0.1:5432 (database ``test``, user ``postgres`` or ``root``,
trust auth) and 127.0.0.1:6379, or where ``UNIGATE_TEST_DATABASE_URL`` / ``UNIGATE_TEST_REDIS_URL``
say. Without them the tests skip, unless ``UNIGATE_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import redis

PG_CANDIDATES = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


async def _pg_ok(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@functools.cache
def postgres_url() -> str | None:
    candidates = [os.environ["UNIGATE_TEST_DATABASE_URL"]] if os.environ.get("UNIGATE_TEST_DATABASE_URL") else []
    for url in [*candidates, *PG_CANDIDATES]:
        with ThreadPoolExecutor(1) as pool:
            reachable = pool.submit(asyncio.run, _pg_ok(url)).result()
        if reachable:
            return url
    return None


@functools.cache
def redis_url() -> str | None:
    url = os.environ.get("UNIGATE_TEST_REDIS_URL") or REDIS_DEFAULT
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError:
        return None
    finally:
        client.close()
    return url


def missing_services() -> str | None:
    """Why the services tests cannot run here, or ``None``."""
    if postgres_url() is None:
        tried = os.environ.get("UNIGATE_TEST_DATABASE_URL") or " or ".join(PG_CANDIDATES)
        return f"PostgreSQL is not reachable ({tried})"
    if redis_url() is None:
        return f"Redis is not reachable ({os.environ.get('UNIGATE_TEST_REDIS_URL') or REDIS_DEFAULT})"
    return None


async def _sql(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def run_sql(url: str, statement: str) -> None:
    """Run one statement from any context: on a thread of its own, so that it works from inside
    a running event loop too (async fixtures)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _sql(url, statement)).result()


def new_schema(base_url: str) -> tuple[str, str]:
    """A fresh schema; returns its name and a database URL that selects it."""
    schema = "t_" + secrets.token_hex(6)
    run_sql(base_url, f"CREATE SCHEMA {schema}")
    return schema, f"{base_url}?search_path={schema}"


def drop_schema(base_url: str, schema: str) -> None:
    run_sql(base_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def drop_redis_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Replica:
    """One ``unigate serve`` process (fake models only) on the shared database and Redis."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()
    """More arguments of ``unigate serve`` (``--workers 2``)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "unigate", "serve", "--port", str(self.port), *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"replica exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"replica did not start:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no settlement, nothing written."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def replica_env(*, database_url: str, redis: str, prefix: str, data_dir: Path, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIGATE_")}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.update(
        UNIGATE_LOCAL_MODEL="0",
        UNIGATE_FAKE_MODELS="1",
        UNIGATE_DATABASE_URL=database_url,
        UNIGATE_REDIS_URL=redis,
        UNIGATE_REDIS_PREFIX=prefix,
        UNIGATE_DATA_DIR=str(data_dir),
        UNIGATE_MANAGEMENT_KEY="mk-test",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env
