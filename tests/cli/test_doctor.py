"""``unigate doctor``: each check's verdicts, against real loopback services and a fake upstream."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from unigate.cli.doctor import Check, run_checks
from unigate.cli.main import app
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, Settings
from unigate.storage.sqlite.schema import MIGRATIONS
from unigate.storage.sqlite.store import SqliteStore

GOOD_KEY = "sk-good"


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """An OpenAI-style ``GET /v1/models`` that accepts one key."""

    async def models(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {GOOD_KEY}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        return web.json_response({"object": "list", "data": []})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings(
        data_dir=tmp_path,
        local=LocalModelSettings(enabled=False),
        embeddings=EmbeddingModelSettings(enabled=False),
    )
    return replace(base, **changes)


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_a_fresh_sqlite_gateway_is_ready_with_a_warning(tmp_path: Path) -> None:
    checks = _by_name(await run_checks(_settings(tmp_path), env={}))
    assert checks["database"].outcome == "warn"
    assert "does not exist yet" in checks["database"].detail
    assert checks["redis"].outcome == "info"
    assert checks["providers"].outcome == "info"
    assert checks["local model"].outcome == "info"
    assert not (tmp_path / "unigate.db").exists()  # the doctor creates nothing


async def test_sqlite_schema_current_behind_and_newer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "unigate.db")
    await store.open()
    await store.ensure_management_key(None)
    await store.close()
    checks = _by_name(await run_checks(_settings(tmp_path), env={}))
    assert checks["database"].outcome == "ok"
    assert f"schema version {len(MIGRATIONS)} (current)" in checks["database"].detail
    assert checks["management key"].outcome == "ok"
    with sqlite3.connect(tmp_path / "unigate.db") as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    assert _by_name(await run_checks(_settings(tmp_path), env={}))["database"].outcome == "warn"
    with sqlite3.connect(tmp_path / "unigate.db") as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    assert _by_name(await run_checks(_settings(tmp_path), env={}))["database"].outcome == "fail"


async def test_providers_key_accepted_rejected_unreachable_and_not_configured(tmp_path: Path, upstream: str) -> None:
    settings = _settings(
        tmp_path,
        providers={
            "dead": {"kind": "openai", "base_url": f"http://127.0.0.1:{_closed_port()}/v1"},
            "half": {"kind": "openai"},
        },
    )
    env = {
        "OPENAI_API_KEY": GOOD_KEY,
        "OPENAI_BASE_URL": upstream,
        "DEEPSEEK_API_KEY": "sk-bad",
        "DEEPSEEK_BASE_URL": upstream,
    }
    checks = _by_name(await run_checks(settings, env=env, wait_s=2))
    assert checks["provider openai"].outcome == "ok"
    assert "key accepted" in checks["provider openai"].detail
    assert checks["provider deepseek"].outcome == "fail"
    assert "key rejected (HTTP 401)" in checks["provider deepseek"].detail
    assert checks["provider dead"].outcome == "fail"
    assert "unreachable" in checks["provider dead"].detail
    assert checks["provider half"].outcome == "warn"
    assert "HALF_BASE_URL" in checks["provider half"].detail
    assert "other providers not configured" in checks["providers"].detail
    assert all(GOOD_KEY not in c.detail and "sk-bad" not in c.detail for c in checks.values())


@pytest.mark.services
async def test_postgres_and_redis(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    settings = _settings(tmp_path, database_url=pg_url, redis_url=redis_url)
    checks = _by_name(await run_checks(settings, env={}))
    assert checks["database"].outcome == "warn"  # a fresh schema: nothing created yet
    assert checks["redis"].outcome == "ok"
    from unigate.storage.postgres.store import PostgresStore

    store = PostgresStore(pg_url)
    await store.open()
    await store.close()
    checks = _by_name(await run_checks(settings, env={}))
    assert checks["database"].outcome == "ok"
    assert "@" not in checks["database"].detail
    dead = _settings(tmp_path, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    assert _by_name(await run_checks(dead, env={}, wait_s=1))["redis"].outcome == "fail"


@pytest.mark.model
async def test_the_local_model_loads(tmp_path: Path) -> None:
    settings = _settings(tmp_path, local=LocalModelSettings())
    check = _by_name(await run_checks(settings, env={}))["local model"]
    assert (check.outcome, check.detail.endswith("loads")) == ("ok", True)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    check = _by_name(await run_checks(_settings(tmp_path, local=LocalModelSettings(model_path=bad)), env={}))[
        "local model"
    ]
    assert (check.outcome, "not a GGUF file" in check.detail) == ("fail", True)


def test_the_command_exits_non_zero_on_a_failure(tmp_path: Path) -> None:
    env = {
        "UNIGATE_DATA_DIR": str(tmp_path),
        "UNIGATE_LOCAL_MODEL": "0",
        "UNIGATE_EMBEDDING_MODEL": "0",
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, ["doctor"], env=env)
    assert result.exit_code == 0, result.stdout
    assert "ready, with 1 warning(s)" in result.stdout
    result = CliRunner().invoke(
        app, ["doctor", "--timeout", "1"], env={**env, "UNIGATE_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}
    )
    assert result.exit_code == 1
    assert "1 check(s) failed" in result.stdout
    result = CliRunner().invoke(app, ["doctor"], env={**env, "UNIGATE_DEFAULT_RPM": "lots"})
    assert result.exit_code == 1
    assert "settings" in result.stdout
