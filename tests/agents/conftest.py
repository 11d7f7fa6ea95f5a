"""The agents tests need the coding agents that ``scripts/install_agents.sh`` installs into
``tests/agents/node_modules``: without them the tests skip, or fail with
``UNIGATE_REQUIRE_SERVICES=1`` (CI), so that they cannot pass there by not running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BIN = Path(__file__).parent / "node_modules" / ".bin"
AGENTS = ("claude", "codex", "opencode")


@pytest.fixture(autouse=True)
def _agents_gate(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("agents") is not None:
        require_agents()


def require_agents() -> None:
    missing = [name for name in AGENTS if not os.access(BIN / name, os.X_OK)]
    if not missing:
        return
    why = f"{', '.join(missing)} missing from {BIN} (run scripts/install_agents.sh)"
    if os.environ.get("UNIGATE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"UNIGATE_REQUIRE_SERVICES=1 but {why}")
    pytest.skip(why)
