"""Runs the AI/ML API's own Python SDK (``aimlapi-sdk-python``) against a test gateway.

The SDK ships its own fork of ``openai``, which would shadow the official one in ``.venv``, so
scripts/install.sh installs it apart (``.sdk/aimlapi``) and every call here runs
``aimlapi_client.py`` in a subprocess with that folder first on its path.
``UNIGATE_AIMLAPI_SDK`` names another folder (a git worktree has no ``.sdk`` of its own: point it
at the main checkout's); without either the tests skip, and fail under
``UNIGATE_REQUIRE_SERVICES=1`` (CI, where ``make test`` installs it) so they cannot pass there by
not running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.serving import Server

__all__ = ["SDK", "sdk", "sdk_folder"]

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / ".sdk" / "aimlapi"
CLIENT = Path(__file__).with_name("aimlapi_client.py")


def sdk_folder() -> Path:
    """The folder the SDK is installed in; skips (or fails, in CI) when it is not there."""
    folder = Path(os.environ.get("UNIGATE_AIMLAPI_SDK") or SDK)
    if not (folder / "aimlapi").is_dir():
        if os.environ.get("UNIGATE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the AI/ML API SDK is not installed in {folder}: run scripts/install.sh dev")
        pytest.skip(f"the AI/ML API SDK is not installed in {folder} (scripts/install.sh dev installs it)")
    return folder


def sdk(server: Server, key: str, *args: str) -> dict[str, Any]:
    """One call of ``aimlapi_client.py`` (its name, then its arguments) with ``key``, against
    ``server`` as the SDK's users set it up: ``AIML_API_KEY`` and ``AIML_API_BASE``; what it printed."""
    path = os.pathsep.join((str(sdk_folder()), str(ROOT)))  # the SDK's openai first; ROOT for tests.sdk
    env = {**os.environ, "PYTHONPATH": path, "AIML_API_KEY": key, "AIML_API_BASE": f"{server.url}/v1"}
    done = subprocess.run(
        [sys.executable, str(CLIENT), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
