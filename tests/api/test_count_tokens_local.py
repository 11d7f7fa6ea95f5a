"""The embedded model behind ``/v1/messages/count_tokens`` and its context limit through the API:
the exact count (what a reply reports), and Claude Code's recorded first request, too large for
the 4,096-token context, refused with ``context_length_exceeded`` naming the sizes, in
Anthropic's shape on ``/v1/messages`` and OpenAI's on ``/v1/chat/completions``, and charged
nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from tests.api.test_messages import anthropic_error, post
from tests.providers.agent_requests import claude_code_body
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.settings import LocalModelSettings

pytestmark = pytest.mark.model

COUNT = "/v1/messages/count_tokens"
WEATHER: Any = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = fake_settings(tmp_path_factory.mktemp("local"), fake_models=False, local=LocalModelSettings())
    running = Server(settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def account(server: Server) -> tuple[str, int]:
    return server.new_key(credits=2_000_000_000)


def test_the_count_is_what_a_reply_reports(server: Server, account: tuple[str, int]) -> None:
    with anthropic.Anthropic(base_url=server.url, api_key=account[0], max_retries=0, timeout=120) as client:
        asked: Any = {
            "model": LOCAL_CHAT_MODEL_ID,
            "system": "You are terse.",
            "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            "tools": [WEATHER],
        }
        counted = client.messages.count_tokens(**asked)
        reply = client.messages.create(max_tokens=4, **asked)
    assert counted.input_tokens == reply.usage.input_tokens > 0


def test_claude_codes_first_request_is_refused_naming_the_sizes(server: Server) -> None:
    key, account_id = server.new_key(credits=2_000_000_000)
    body = claude_code_body(LOCAL_CHAT_MODEL_ID)
    before = server.balance(account_id)
    counted = post(server, body, key=key, path=COUNT).json()["input_tokens"]
    said = anthropic_error(post(server, body, key=key), 400, "invalid_request_error")
    match = re.fullmatch(
        r"This model's maximum context length is 4096 tokens\. However, your messages resulted in (\d+) tokens"
        r" \((\d+) in the messages, (\d+) in the tools\)\. Please reduce the length of the messages or tools\.",
        said,
    )
    assert match is not None, said
    total, messages, tools = (int(g) for g in match.groups())
    assert total == counted > 4096
    assert messages + tools == total
    assert tools > 0
    streamed = post(server, {**body, "stream": True}, key=key)
    assert anthropic_error(streamed, 400, "invalid_request_error") == said
    # The same body on /v1/chat/completions (Anthropic-style bodies are read there too): OpenAI's shape.
    r = httpx2.post(
        f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
    )
    assert error["message"] == said
    # Refused before generating, and charged nothing.
    assert server.balance(account_id) == before
    assert all(row[3] == 0 for row in server.usage_rows(account_id))
    assert server.open_reservations() == 0
