"""The coding agents' recorded first requests (``fixtures/agents/``), as the tests send them."""

from __future__ import annotations

from typing import Any

from tests.providers.emulators import fixture_json
from unigate.api.anthropic.schema import MessagesRequest, Tool


def claude_code_body(model: str) -> dict[str, Any]:
    """Claude Code's first request (27 KB of system prompt, 12 tools, ``max_tokens: 32000``) for
    ``model``, less ``thinking`` (a model without reasoning refuses it first, naming it) and the
    fields that ``MessagesRequest`` does not know (``context_management``, a tool's
    ``defer_loading``), none of which changes the prompt's size much."""
    body: dict[str, Any] = fixture_json("agents/claude_code_first_request.json")["body"]
    kept = {k: v for k, v in body.items() if k in MessagesRequest.model_fields and k != "thinking"}
    kept["tools"] = [{k: v for k, v in tool.items() if k in Tool.model_fields} for tool in kept["tools"]]
    return {**kept, "model": model}
