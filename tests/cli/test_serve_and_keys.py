"""The ``unigate`` command as a user runs it: ``serve`` in one process, ``keys create`` in another."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

UNIGATE = [sys.executable, "-m", "unigate"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIGATE_")}
    env.update(UNIGATE_DATA_DIR=str(data_dir), UNIGATE_LOCAL_MODEL="0", UNIGATE_FAKE_MODELS="1")
    return env


class Served:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*UNIGATE, "serve", "--port", str(self.port)],
            env=cli_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("unigate serve did not come up")

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_management_key_is_printed_once_and_keys_work_while_serving(data_dir: Path) -> None:
    served = Served(data_dir)
    try:
        created = subprocess.run(
            [*UNIGATE, "keys", "create", "--name", "ci", "--credits", "5000"],
            env=cli_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = created.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{32}", key), created.stdout
        assert "balance 5,000 credits" in created.stderr
        r = httpx2.post(
            f"{served.url}/v1/chat/completions",
            json={"model": "fake/echo", "messages": [{"role": "user", "content": "hi there"}], "max_tokens": 5},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.json()["meta"]["usage"]["credits_used"] == 4
    finally:
        first_err = served.stop()
    assert re.search(r"Management key.*\n\s+mk-[0-9a-f]{48}", first_err), first_err

    again = Served(data_dir)
    second_err = again.stop()
    assert "Management key" not in second_err


def test_keys_create_for_an_unknown_account_fails_clearly(data_dir: Path) -> None:
    r = subprocess.run(
        [*UNIGATE, "keys", "create", "--account", "999", "--credits", "5"],
        env=cli_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "no account 999" in r.stderr
    assert r.stdout == ""


def test_bad_config_file_is_reported(tmp_path: Path, data_dir: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[local]\nwings = 2\n")
    r = subprocess.run(
        [*UNIGATE, "serve", "--config", str(config)], env=cli_env(data_dir), capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "unknown [local] settings: wings" in r.stderr


def test_workers_need_redis(data_dir: Path) -> None:
    r = subprocess.run(
        [*UNIGATE, "serve", "--workers", "2"], env=cli_env(data_dir), capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "UNIGATE_REDIS_URL" in r.stderr


@pytest.mark.services
def test_two_workers_share_the_port_and_the_ledger(data_dir: Path, redis_url: str, redis_prefix: str) -> None:
    env = cli_env(data_dir) | {"UNIGATE_REDIS_URL": redis_url, "UNIGATE_REDIS_PREFIX": redis_prefix}
    key = subprocess.run(
        [*UNIGATE, "keys", "create", "--credits", "100000"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    proc = subprocess.Popen(
        [*UNIGATE, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        body = {"model": "fake/echo", "messages": [{"role": "user", "content": "a b"}], "max_tokens": 4}
        with httpx2.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            codes = [
                client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body).status_code for _ in range(20)
            ]
        assert codes == [200] * 20
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 2
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0
    shown = subprocess.run([*UNIGATE, "credits", "show", "1"], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == str(100_000 - 20 * 4)  # 2 prompt + 2 completion tokens at 1 credit each
