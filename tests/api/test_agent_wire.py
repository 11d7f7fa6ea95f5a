"""What coding agents need of ``/v1/messages`` and ``/v1/responses`` beyond the field policy, with
the official SDKs against emulated upstreams: Claude's thinking signature reaches the client
(streamed as ``signature_delta`` and whole), and the client's signed history goes back to Claude as
sent, on any replica (nothing kept by the gateway); OpenAI's encrypted reasoning reaches a
Responses client and goes back the same way; prompt-cache counts come back as Anthropic reports
them; the recorded first requests of Claude Code and Codex go through whole."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.providers.emulators import (
    FIXTURES,
    Emulator,
    EmulatorThread,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
)
from tests.serving import Server, fake_settings
from unigate.catalog.loader import load_catalog
from unigate.core.provider import Provider
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.openai_compat import OpenAICompatProvider

CLAUDE = model_spec("anthropic", "claude-sonnet-4-6", id="anthropic/claude-sonnet-4.6", max_output=64000)
CODEX = next(s for s in load_catalog() if s.id == "openai/gpt-5-1-codex")
SIGNED = fixture_json("anthropic/message_thinking_tool_use.json")
SIGNATURE = SIGNED["content"][0]["signature"]
STREAM_SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."  # stream_thinking.sse's
SEALED = "gAAAAABoWaTJ-encrypted-reasoning-of-the-fixture"
AGENTS = FIXTURES / "agents"


def sealed_response() -> dict[str, Any]:
    """The recorded function-call answer, its reasoning item sealed as with ``include:
    ["reasoning.encrypted_content"]`` (the API reference's reasoning item shape)."""
    data: dict[str, Any] = copy.deepcopy(fixture_json("openai_responses/function_call.json"))
    data["output"][0]["encrypted_content"] = SEALED
    return data


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def servers(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two replicas on one accounts database, as behind a load balancer."""
    data_dir: Path = tmp_path_factory.mktemp("agent-wire")
    running = []
    for _ in range(2):
        providers: dict[str, Provider] = {
            "anthropic": AnthropicProvider(provider_config("anthropic", upstream.url)),
            "openai": OpenAICompatProvider(provider_config("openai", upstream.url + "/v1")),
        }
        running.append(Server(fake_settings(data_dir), models=[CLAUDE, CODEX], providers=providers).start())
    yield running
    for server in running:
        server.stop()


@pytest.fixture(scope="module")
def key(servers: list[Server]) -> str:
    return servers[0].new_key(credits=10_000_000_000)[0]


@pytest.fixture
def fresh(upstream: Emulator) -> Emulator:
    upstream.replies.clear()
    upstream.requests.clear()
    return upstream


def claude(server: Server, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0, timeout=30)


TOOLS: Any = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}
]
BETA = "interleaved-thinking-2025-05-14,context-management-2025-06-27"


def test_claudes_signature_reaches_the_client_and_goes_back_from_another_replica(
    servers: list[Server], key: str, fresh: Emulator
) -> None:
    fresh.queue(json_reply(SIGNED), json_reply(fixture_json("anthropic/message.json")))
    ask: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    first = claude(servers[0], key).messages.create(
        model=CLAUDE.id,
        max_tokens=4096,
        messages=ask,
        tools=TOOLS,
        thinking=thinking,
        extra_headers={"anthropic-beta": BETA},
    )
    block = first.content[0]
    assert (block.type, getattr(block, "signature", None)) == ("thinking", SIGNATURE)
    call = next(b for b in first.content if b.type == "tool_use")
    history: Any = [
        *ask,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18°C, sunny"}]},
    ]
    claude(servers[1], key).messages.create(
        model=CLAUDE.id,
        max_tokens=4096,
        messages=history,
        tools=TOOLS,
        thinking=thinking,
        extra_headers={"anthropic-beta": BETA},
    )
    sent = fresh.requests[1]
    assert sent.body["messages"][1]["content"][0] == SIGNED["content"][0]  # signed, as Claude wrote it
    assert sent.body["thinking"] == thinking
    assert sent.headers["anthropic-beta"] == BETA


def test_a_streamed_signature_arrives_as_signature_delta(servers: list[Server], key: str, fresh: Emulator) -> None:
    fresh.queue(sse_reply(fixture("anthropic/stream_thinking.sse")))
    with claude(servers[0], key).messages.stream(
        model=CLAUDE.id,
        max_tokens=4096,
        messages=[{"role": "user", "content": "GCD of 1071 and 462?"}],
        thinking={"type": "enabled", "budget_tokens": 2048},
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert "signature" in kinds  # the SDK's event for a signature_delta
    thought = final.content[0]
    assert (thought.type, getattr(thought, "signature", None)) == ("thinking", STREAM_SIGNATURE)


def test_unsigned_thinking_in_a_history_is_not_sent_to_claude(servers: list[Server], key: str, fresh: Emulator) -> None:
    """Another model's reasoning, rendered unsigned, would make Claude refuse the request."""
    fresh.queue(json_reply(fixture_json("anthropic/message.json")))
    history: Any = [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "hm", "signature": ""}, {"type": "text", "text": "Hello"}],
        },
        {"role": "user", "content": "And?"},
    ]
    claude(servers[0], key).messages.create(model=CLAUDE.id, max_tokens=100, messages=history)
    assert fresh.requests[0].body["messages"][1]["content"] == [{"type": "text", "text": "Hello"}]


def test_prompt_cache_counts_come_back_as_anthropic_reports_them(
    servers: list[Server], key: str, fresh: Emulator
) -> None:
    answer = copy.deepcopy(fixture_json("anthropic/message_cache_read.json"))
    answer["usage"]["cache_creation_input_tokens"] = 1200
    fresh.queue(json_reply(answer))
    r = claude(servers[0], key).messages.create(
        model=CLAUDE.id, max_tokens=400, messages=[{"role": "user", "content": "x"}]
    )
    assert (r.usage.input_tokens, r.usage.cache_read_input_tokens, r.usage.cache_creation_input_tokens) == (
        21,
        188086,
        1200,
    )


def test_openais_sealed_reasoning_reaches_a_responses_client_and_goes_back(
    servers: list[Server], key: str, fresh: Emulator
) -> None:
    fresh.queue(json_reply(sealed_response()), json_reply(fixture_json("openai_responses/text.json")))
    tools: Any = [{"type": "function", "name": "search", "parameters": {"type": "object", "properties": {}}}]
    with openai.OpenAI(base_url=servers[0].url + "/v1", api_key=key, max_retries=0) as client:
        first = client.responses.create(
            model=CODEX.id, input="Tigers game?", tools=tools, store=False, include=["reasoning.encrypted_content"]
        )
    reasoning = next(i for i in first.output if i.type == "reasoning")
    assert reasoning.encrypted_content == SEALED
    call = next(i for i in first.output if i.type == "function_call")
    history: Any = [
        {"role": "user", "content": "Tigers game?"},
        reasoning.model_dump(exclude_none=True),
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "7:10 PM"},
    ]
    with openai.OpenAI(base_url=servers[1].url + "/v1", api_key=key, max_retries=0) as client:
        client.responses.create(model=CODEX.id, input=history, tools=tools, store=False)
    sent = fresh.requests[1].body
    back = [i for i in sent["input"] if i.get("type") == "reasoning"]
    assert [i["encrypted_content"] for i in back] == [SEALED]
    assert sent["store"] is False


@pytest.mark.parametrize(
    ("name", "model", "reply"),
    [
        ("claude_code", CLAUDE.id, "anthropic/stream_basic.sse"),
        ("codex", CODEX.id, "openai_responses/stream_text.sse"),
    ],
)
def test_an_agents_recorded_first_request_goes_through_whole(
    servers: list[Server], key: str, fresh: Emulator, name: str, model: str, reply: str
) -> None:
    recorded = fixture_json(f"agents/{name}_first_request.json")
    body = recorded["body"] | {"model": model}
    headers = {k: v for k, v in recorded["headers"].items() if k in ("anthropic-beta", "anthropic-version")}
    fresh.queue(sse_reply(fixture(reply)))
    auth = {"x-api-key": key} if name == "claude_code" else {"Authorization": f"Bearer {key}"}
    path = "/v1/messages" if name == "claude_code" else "/v1/responses"
    with httpx2.Client(timeout=30) as http:
        r = http.post(servers[0].url + path, json=body, headers=auth | headers)
    assert r.status_code == 200, r.text
    sent = fresh.requests[0]
    expected = {k: v for k, v in body.items() if k not in ("model",)}
    dropped = {"tools"} if name == "codex" else set()  # its hosted web_search tool (the field policy)
    assert {k: sent.body[k] for k in expected if k not in dropped | {"store"}} == {
        k: v for k, v in expected.items() if k not in dropped | {"store"}
    }
    if name == "codex":
        assert [t for t in sent.body["tools"] if t["type"] == "web_search"] == []
        assert len(sent.body["tools"]) == len(body["tools"]) - 1
    else:
        assert sent.headers["anthropic-beta"] == headers["anthropic-beta"]


def test_a_streamed_reasoning_item_comes_sealed(servers: list[Server], key: str, fresh: Emulator) -> None:
    """Codex reads the reasoning item of ``response.output_item.done`` and sends it back whole."""
    recorded = fixture("openai_responses/stream_reasoning_summary.sse").decode()
    sealed = recorded.replace(
        '"type":"reasoning","summary":', f'"type":"reasoning","encrypted_content":"{SEALED}","summary":'
    )
    assert sealed != recorded
    fresh.queue(sse_reply(sealed.encode()))
    with openai.OpenAI(base_url=servers[0].url + "/v1", api_key=key, max_retries=0) as client:
        stream = client.responses.create(
            model=CODEX.id, input="Tigers game?", stream=True, store=False, include=["reasoning.encrypted_content"]
        )
        done = [e.item for e in stream if e.type == "response.output_item.done"]
    reasoning = [i for i in done if i.type == "reasoning"]
    assert [i.encrypted_content for i in reasoning] == [SEALED]
    assert reasoning[0].content is not None
    assert "Tigers" in reasoning[0].content[0].text  # the summary, as reasoning text
