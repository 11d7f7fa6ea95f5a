"""``unigate doctor``: check that this gateway can run, without starting it.

Checks, in order: the settings load; the database answers and its schema is current (read-only:
nothing is migrated or created); Redis answers, when configured; each configured provider
deployment accepts its key (one cheap authenticated ``GET`` of its model list, with a short
timeout, reported as *key accepted*, *key rejected*, *unreachable* or the status it answered);
the embedded models' files are there and the chat model loads. The exit code is 1 when a check
failed, 0 otherwise (warnings included).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import aiohttp
import typer
from rich.markup import escape

from unigate.cli.config import ConfigOpt, out
from unigate.providers.config import ProviderConfig
from unigate.providers.registry import load_deployments, load_provider_configs
from unigate.settings import Settings, load_settings
from unigate.storage.migrations import SchemaState

__all__ = ["Check", "Outcome", "doctor", "run_checks"]

Outcome = Literal["ok", "warn", "fail", "info"]

_MARKS: dict[Outcome, str] = {
    "ok": "[green]✓[/green]",
    "warn": "[yellow]![/yellow]",
    "fail": "[red]✗[/red]",
    "info": "[dim]·[/dim]",
}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: Outcome
    detail: str


# ---- database --------------------------------------------------------------------------------


def _sqlite(settings: Settings) -> list[Check]:
    from unigate.storage.sqlite.schema import inspect

    try:
        path = settings.sqlite_path()
    except ValueError as exc:
        return [Check("database", "fail", str(exc))]
    if not path.exists():
        return [Check("database", "warn", f"SQLite {path} does not exist yet: `unigate serve` creates it")]
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            state = inspect(db)
    except sqlite3.Error as exc:
        return [Check("database", "fail", f"SQLite {path} cannot be read: {exc}")]
    return [_schema(f"SQLite {path}", state), _management(settings, state.management_key_stored)]


async def _postgres(settings: Settings, wait_s: float) -> list[Check]:
    import asyncpg

    from unigate.storage.postgres.schema import inspect

    assert settings.database_url is not None
    url = urlsplit(settings.database_url)
    where = f"PostgreSQL {url.hostname or 'localhost'}:{url.port or 5432}{url.path}"  # never the password
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=wait_s)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return [Check("database", "fail", f"{where} is unreachable: {exc}")]
    try:
        state = await inspect(conn)
    except asyncpg.PostgresError as exc:
        return [Check("database", "fail", f"{where} cannot be read: {exc}")]
    finally:
        await conn.close()
    if state is None:
        return [Check("database", "warn", f"{where} has no unigate schema yet: `unigate serve` creates it")]
    return [_schema(where, state), _management(settings, state.management_key_stored)]


def _schema(where: str, state: SchemaState) -> Check:
    version, latest = state.version, state.latest
    if version > latest:
        return Check("database", "fail", f"{where}: schema version {version} is newer than this unigate ({latest})")
    if version < latest:
        behind = latest - version
        return Check(
            "database", "warn", f"{where}: schema {behind} step(s) behind, applied by the next `unigate serve`"
        )
    return Check("database", "ok", f"{where}, schema version {version} (current)")


def _management(settings: Settings, stored: bool) -> Check:
    if settings.management_key:
        return Check("management key", "ok", "set by UNIGATE_MANAGEMENT_KEY")
    if stored:
        return Check("management key", "ok", "stored in the database")
    return Check("management key", "info", "none yet: the first `unigate serve` generates and prints one")


# ---- Redis -----------------------------------------------------------------------------------


async def _redis(settings: Settings, wait_s: float) -> Check:
    if settings.redis_url is None:
        return Check("redis", "info", "not configured: rate limits are counted per process, keys are not cached")
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    url = urlsplit(settings.redis_url)
    where = f"{url.hostname or 'localhost'}:{url.port or 6379}{url.path}"  # never the password
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=wait_s, socket_connect_timeout=wait_s)
    try:
        started = time.monotonic()
        await client.ping()
        return Check("redis", "ok", f"{where} answers ({(time.monotonic() - started) * 1000:.0f} ms)")
    except (RedisError, OSError) as exc:
        return Check("redis", "fail", f"{where} is unreachable: {exc}")
    finally:
        await client.aclose()


# ---- providers -------------------------------------------------------------------------------


def _probe(config: ProviderConfig) -> tuple[str, dict[str, str]]:
    """The cheapest authenticated request of ``config``'s protocol: its model list."""
    key = config.api_key or ""
    if config.kind == "anthropic":
        return f"{config.base_url}/v1/models", {"x-api-key": key, "anthropic-version": "2023-06-01"}
    if config.kind == "gemini":
        return f"{config.base_url}/v1beta/models", {"x-goog-api-key": key}
    return f"{config.base_url}/models", {"Authorization": f"Bearer {key}"} if key else {}


async def _provider(http: aiohttp.ClientSession, name: str, config: ProviderConfig, wait_s: float) -> Check:
    url, headers = _probe(config)
    started = time.monotonic()
    try:
        async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=wait_s)) as response:
            status = response.status
            await response.read()
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc) or type(exc).__name__
        return Check(name, "fail", f"{config.base_url} is unreachable: {reason}")
    ms = (time.monotonic() - started) * 1000
    if status in (401, 403):
        return Check(name, "fail", f"{config.base_url}: key rejected (HTTP {status})")
    if status >= 400:
        return Check(name, "warn", f"{config.base_url}: answered HTTP {status} to GET {url.rsplit('/', 1)[-1]}")
    accepted = "key accepted" if config.api_key else "answers"
    return Check(name, "ok", f"{config.base_url}: {accepted} ({ms:.0f} ms)")


async def _providers(settings: Settings, env: Mapping[str, str], wait_s: float) -> list[Check]:
    try:
        deployments = load_deployments(env, settings.providers)
        configs = load_provider_configs(env, settings.providers)
    except ValueError as exc:
        return [Check("providers", "fail", str(exc))]
    checks: list[Check] = []
    idle = 0
    async with aiohttp.ClientSession() as http:
        probes = []
        for name, found in deployments.items():
            if found:
                for i, config in enumerate(found):
                    label = f"provider {name}" + (f" #{i + 1}" if len(found) > 1 else "")
                    probes.append(_provider(http, label, config, wait_s))
            elif name in settings.providers:
                missing = configs[name].missing_setting()
                checks.append(Check(f"provider {name}", "warn", f"declared but not configured: set {missing}"))
            else:
                idle += 1
        checks = [*await asyncio.gather(*probes), *checks]
    if idle:
        other = "other " if checks else ""
        checks.append(
            Check("providers", "info", f"{idle} {other}providers not configured (<NAME>_API_KEY enables one)")
        )
    return checks


# ---- embedded models -------------------------------------------------------------------------


def _local_model(settings: Settings) -> Check:
    if not settings.local.enabled:
        return Check("local model", "info", "disabled (UNIGATE_LOCAL_MODEL=0)")
    from unigate.providers.local.engine import default_model_path

    try:
        path = settings.local.model_path or default_model_path()
    except FileNotFoundError as exc:
        return Check("local model", "fail", str(exc))
    if not path.is_file():
        return Check("local model", "fail", f"{path} does not exist")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            return Check("local model", "fail", f"{path} is not a GGUF file")
    try:
        from llama_cpp import Llama

        with _quiet_stderr():  # llama.cpp writes notes to fd 2 whatever ``verbose`` says
            Llama(model_path=str(path), vocab_only=True, verbose=False)
    except Exception as exc:  # llama.cpp reports a bad file as a plain ValueError/RuntimeError
        return Check("local model", "fail", f"{path} does not load: {exc}")
    return Check("local model", "ok", f"{path.name} ({path.stat().st_size / 1e6:.0f} MB) loads")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _embedding_model(settings: Settings) -> Check:
    if not settings.embeddings.enabled:
        return Check("embedding model", "info", "disabled (UNIGATE_EMBEDDING_MODEL=0)")
    try:
        from unigate.providers.embeddings.minilm import default_model_dir

        folder = settings.embeddings.model_dir or default_model_dir()
    except (FileNotFoundError, ImportError) as exc:
        return Check("embedding model", "warn", f"not served: {exc}")
    missing = [n for n in ("model.safetensors", "tokenizer.json", "config.json") if not (Path(folder) / n).is_file()]
    if missing:
        return Check("embedding model", "warn", f"not served: {folder} lacks {', '.join(missing)}")
    return Check("embedding model", "ok", f"{folder}")


# ---- all of them -----------------------------------------------------------------------------


async def run_checks(settings: Settings, *, env: Mapping[str, str], wait_s: float = 5.0) -> list[Check]:
    """Every check but the settings' own, in the order they are shown."""
    database = await _postgres(settings, wait_s) if settings.uses_postgres else _sqlite(settings)
    redis, providers = await asyncio.gather(_redis(settings, wait_s), _providers(settings, env, wait_s))
    return [*database, redis, *providers, _local_model(settings), _embedding_model(settings)]


def doctor(
    config: ConfigOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service.")] = 5.0,
) -> None:
    """Check the settings, the database, Redis, each configured provider and the embedded models."""
    try:
        settings = load_settings(config)
    except (ValueError, TypeError, OSError) as exc:
        _show([Check("settings", "fail", str(exc))])
        raise typer.Exit(1) from None
    source = str(config or os.environ.get("UNIGATE_CONFIG") or "defaults and environment")
    checks = [
        Check("settings", "ok", f"loaded from {source}"),
        *asyncio.run(run_checks(settings, env=os.environ, wait_s=timeout)),
    ]
    _show(checks)
    if any(c.outcome == "fail" for c in checks):
        raise typer.Exit(1)


def _show(checks: list[Check]) -> None:
    width = max(len(c.name) for c in checks)
    for c in checks:
        out.print(f" {_MARKS[c.outcome]} {c.name:<{width}}  {escape(c.detail)}")
    failed = sum(c.outcome == "fail" for c in checks)
    warned = sum(c.outcome == "warn" for c in checks)
    if failed:
        out.print(f"[red]{failed} check(s) failed[/red]" + (f", {warned} warning(s)" if warned else ""))
    elif warned:
        out.print(f"[yellow]ready, with {warned} warning(s)[/yellow]")
    else:
        out.print("[green]ready[/green]")
