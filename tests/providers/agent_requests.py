"""The coding agents' recorded first requests (``fixtures/agents/``), as the tests send them."""

from __future__ import annotations

from typing import Any

from tests.providers.emulators import fixture_json


def claude_code_body(model: str) -> dict[str, Any]:
    """Claude Code's first request (27 KB of system prompt, 12 tools, ``max_tokens: 32000``,
    extended thinking asked, which a model without reasoning drops) for ``model``, as recorded."""
    body: dict[str, Any] = fixture_json("agents/claude_code_first_request.json")["body"]
    return {**body, "model": model}
