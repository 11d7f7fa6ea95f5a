"""``unigate keys``, ``unigate credits`` and ``unigate usage`` against a SQLite database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx2
from typer.testing import CliRunner

from tests.serving import Server, fake_settings
from unigate.cli.main import app


def run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"UNIGATE_DATA_DIR": str(data_dir), "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_keys_lifecycle(tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path,
        *("keys", "create", "--name", "ci", "--credits", "5000", "--scope", "model:chat"),
        *("--limit-usd", "1.5", "--limit-period", "week", "--rpm", "10"),
    )
    assert code == 0, err
    key = out.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert "Account 1, balance 5,000 credits" in err
    code, out, _ = run(tmp_path, "keys", "create", "--account", "1", "--credits", "100", "--name", "two")
    assert code == 0
    code, out, _ = run(tmp_path, "keys", "list", "--json")
    first, second = (json.loads(line) for line in out.splitlines())
    assert (first["prefix"], first["scopes"], first["limit"]) == (
        key[:8],
        ["model:chat"],
        {"retention": "week", "threshold": 1.5},
    )
    assert first["rate_limit"] == {"rpm": 10, "tpm": None}
    assert (second["name"], second["account_id"]) == ("two", 1)
    code, out, _ = run(tmp_path, "keys", "list")
    assert key[:8] in out
    assert run(tmp_path, "keys", "disable", key[:8])[0] == 0
    assert json.loads(run(tmp_path, "keys", "list", "--json")[1].splitlines()[0])["disabled"] is True
    assert run(tmp_path, "keys", "enable", key[:8])[0] == 0
    assert run(tmp_path, "keys", "delete", key[:8])[0] == 0
    code, _, err = run(tmp_path, "keys", "delete", key[:8])
    assert (code, "no API key" in err) == (1, True)
    assert len(run(tmp_path, "keys", "list", "--json")[1].splitlines()) == 1


def test_keys_create_rejects_bad_options(tmp_path: Path) -> None:
    assert run(tmp_path, "keys", "create", "--scope", "model:images")[0] == 2
    assert run(tmp_path, "keys", "create", "--limit-usd", "1", "--limit-period", "year")[0] == 2
    code, _, err = run(tmp_path, "keys", "create", "--account", "42")
    assert (code, "no account 42" in err) == (1, True)


def test_credits(tmp_path: Path) -> None:
    run(tmp_path, "keys", "create", "--credits", "100")
    code, out, err = run(tmp_path, "credits", "add", "1", "4000000")
    assert (code, out.strip()) == (0, "4000100")
    assert "2.00005 USD" in err
    assert run(tmp_path, "credits", "show", "1")[1].strip() == "4000100"
    assert run(tmp_path, "credits", "add", "1", "--", "-5000000")[0] == 1
    assert run(tmp_path, "credits", "add", "7", "1")[0] == 1
    assert run(tmp_path, "credits", "show", "7")[0] == 1


def test_usage_shows_the_ledger(tmp_path: Path) -> None:
    server = Server(fake_settings(tmp_path, management_key="mk-test")).start()
    try:
        key, _ = server.new_key(credits=10_000)
        for text in ("a b", "c d e"):
            body = {"model": "fake/echo", "messages": [{"role": "user", "content": text}], "max_tokens": 5}
            assert (
                httpx2.post(
                    f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
                ).status_code
                == 200
            )
    finally:
        server.stop()
    code, out, _ = run(tmp_path, "usage", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["prompt_tokens"], r["completion_tokens"], r["status"]) for r in rows] == [(3, 3, "ok"), (2, 2, "ok")]
    assert len(run(tmp_path, "usage", "--json", "--key", key[:8], "--limit", "1")[1].splitlines()) == 1
    assert run(tmp_path, "usage", "--key", "nothing1")[0] == 1
    code, out, _ = run(tmp_path, "usage")
    assert (code, key[:8] in out, "fake/echo" in out) == (0, True, True)
