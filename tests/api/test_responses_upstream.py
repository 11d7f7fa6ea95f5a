"""A model OpenAI serves only through its Responses API (``openai/gpt-5-1-codex`` from the
catalog) through every inbound API, with the official SDKs, streamed and not: each call reaches
the emulated OpenAI at ``/v1/responses`` and the recorded answer comes back in the client's own
shape, tool calls and reasoning included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.providers.emulators import Emulator, EmulatorThread, fixture, fixture_json, provider_config, sse_reply
from tests.providers.emulators import json_reply as reply
from tests.serving import Server, fake_settings
from unigate.catalog.loader import load_catalog
from unigate.core.provider import Provider
from unigate.providers.openai_compat import OpenAICompatProvider

CODEX = next(s for s in load_catalog() if s.id == "openai/gpt-5-1-codex")
TEXT = fixture_json("openai_responses/text.json")["output"][0]["content"][0]["text"]
STREAMED = next(
    orjson.loads(line[6:])["text"]
    for line in fixture("openai_responses/stream_text.sse").decode().splitlines()
    if line.startswith("data: ") and '"response.output_text.done"' in line
)
TOOL: Any = {"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers: dict[str, Provider] = {"openai": OpenAICompatProvider(provider_config("openai", upstream.url + "/v1"))}
    data_dir: Path = tmp_path_factory.mktemp("responses-upstream")
    running = Server(fake_settings(data_dir), models=[CODEX], providers=providers).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=100_000_000)[0]


@pytest.fixture
def oai(server: Server, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=30) as client:
        yield client


@pytest.fixture
def claude(server: Server, key: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0, timeout=30) as client:
        yield client


def _answered(upstream: Emulator, *, stream: bool) -> dict[str, Any]:
    """What the gateway sent: always to /v1/responses, streamed as the client asked."""
    assert upstream.last.path == "/v1/responses"
    body: dict[str, Any] = upstream.last.body
    assert body["model"] == "gpt-5.1-codex"
    assert body.get("stream", False) is stream
    return body


USER: Any = [{"role": "user", "content": "What's the weather like in SF?"}]


def test_chat_completions(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(reply(fixture_json("openai_responses/text.json")))
    r = oai.chat.completions.create(model=CODEX.id, messages=USER, max_completion_tokens=500)
    body = _answered(upstream, stream=False)
    assert (body["input"], body["max_output_tokens"]) == (USER, 500)
    assert (r.choices[0].message.content, r.choices[0].finish_reason) == (TEXT, "stop")
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (14, 50)


def test_chat_completions_streamed(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("openai_responses/stream_text.sse")))
    stream = oai.chat.completions.create(model=CODEX.id, messages=USER, stream=True)
    chunks = list(stream)
    _answered(upstream, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == STREAMED
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_chat_completions_tool_call_streamed(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("openai_responses/stream_reasoning_summary.sse")))
    stream = oai.chat.completions.create(model=CODEX.id, messages=USER, tools=[TOOL], stream=True)
    chunks = list(stream)
    assert _answered(upstream, stream=True)["tools"][0]["name"] == "search"
    calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
    assert calls[0].function is not None
    assert calls[0].function.name == "search"
    arguments = "".join(t.function.arguments or "" for t in calls if t.function)
    assert arguments == '{"query": "Detroit Tigers game time June 23 2025"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_messages(upstream: Emulator, claude: anthropic.Anthropic) -> None:
    upstream.queue(reply(fixture_json("openai_responses/text.json")))
    message = claude.messages.create(model=CODEX.id, max_tokens=400, system="Be brief.", messages=USER)
    body = _answered(upstream, stream=False)
    assert body["input"][0]["content"] == "Be brief."
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    assert (message.stop_reason, message.usage.input_tokens, message.usage.output_tokens) == ("end_turn", 14, 50)


def test_messages_streamed_with_thinking_and_a_tool(upstream: Emulator, claude: anthropic.Anthropic) -> None:
    upstream.queue(sse_reply(fixture("openai_responses/stream_reasoning_summary.sse")))
    tools: Any = [{"name": "search", "input_schema": {"type": "object", "properties": {}}}]
    with claude.messages.stream(model=CODEX.id, max_tokens=400, messages=USER, tools=tools) as stream:
        message = stream.get_final_message()
    _answered(upstream, stream=True)
    kinds = [b.type for b in message.content]
    assert kinds == ["thinking", "tool_use"]
    assert message.content[0].thinking.startswith("**Providing game details**")  # type: ignore[union-attr]
    assert message.content[1].input == {"query": "Detroit Tigers game time June 23 2025"}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"


def test_responses(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(reply(fixture_json("openai_responses/text.json")))
    r = oai.responses.create(model=CODEX.id, input="What's the weather like in SF?", max_output_tokens=64)
    body = _answered(upstream, stream=False)
    # A Responses client's body reaches OpenAI as written (core/field_policy.py): input a string.
    assert (body["input"], body["max_output_tokens"]) == ("What's the weather like in SF?", 64)
    assert r.output_text == TEXT


def test_responses_streamed(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("openai_responses/stream_text.sse")))
    with oai.responses.stream(model=CODEX.id, input="Who are you?") as stream:
        final = stream.get_final_response()
    _answered(upstream, stream=True)
    assert final.output_text == STREAMED


def test_completions(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(reply(fixture_json("openai_responses/text.json")))
    r = oai.completions.create(model=CODEX.id, prompt="What's the weather like in SF?", max_tokens=64)
    assert _answered(upstream, stream=False)["input"] == USER
    assert (r.choices[0].text, r.choices[0].finish_reason) == (TEXT, "stop")


def test_completions_streamed(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("openai_responses/stream_text.sse")))
    chunks = list(oai.completions.create(model=CODEX.id, prompt="Who are you?", max_tokens=64, stream=True))
    _answered(upstream, stream=True)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == STREAMED


def test_an_upstream_rate_limit_in_the_stream_reaches_the_client(upstream: Emulator, oai: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("openai_responses/stream_rate_limited.sse")))
    with pytest.raises(openai.APIError, match="rate limiting"):
        list(oai.chat.completions.create(model=CODEX.id, messages=USER, stream=True))


def test_a_parameter_the_responses_api_lacks_is_refused_before_the_upstream(
    upstream: Emulator, oai: openai.OpenAI
) -> None:
    before = len(upstream.requests)
    with pytest.raises(openai.BadRequestError, match="seed"):
        oai.chat.completions.create(model=CODEX.id, messages=USER, seed=7)
    assert len(upstream.requests) == before
