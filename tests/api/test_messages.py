"""``POST /v1/messages`` (Anthropic Messages API) on the deterministic fake model: the official
``anthropic`` SDK unchanged, the exact stream event sequence, Anthropic-shaped errors for
everything under ``/v1/messages``, the translation into the canonical request, and the
Anthropic-style body on ``/v1/chat/completions``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import orjson
import pytest

from tests.serving import Server, fake_settings
from unigate.api.anthropic.schema import MessagesRequest, is_anthropic_style
from unigate.core.chat import FilePart, ImagePart, JsonSchemaFormat, Message, NamedToolChoice, TextPart, ToolCall
from unigate.errors import InvalidRequest

FAKE = "fake/echo"
USER: Any = [{"role": "user", "content": "one two three"}]
WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("messages"), management_key="mk-test")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=10_000_000)[0]


@pytest.fixture(scope="module")
def client(server: Server, key: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0) as client:
        yield client


def post(server: Server, body: dict[str, Any], *, key: str | None, path: str = "/v1/messages") -> httpx2.Response:
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"} if key else {}
    return httpx2.post(f"{server.url}{path}", json=body, headers=headers, timeout=30)


def anthropic_error(r: httpx2.Response, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == kind
    message: str = body["error"]["message"]
    assert message
    return message


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = block.split("\n", 1)
        assert name.startswith("event: "), block
        assert data.startswith("data: "), block
        payload = orjson.loads(data.removeprefix("data: "))
        assert payload["type"] == name.removeprefix("event: ")
        out.append((payload["type"], payload))
    return out


# ---- the SDK ---------------------------------------------------------------------------------


def test_create(client: anthropic.Anthropic) -> None:
    r = client.messages.create(model=FAKE, max_tokens=50, system="be brief", messages=USER)
    assert r.id.startswith("msg_")
    assert (r.type, r.role, r.model) == ("message", "assistant", "echo-1")
    assert [b.type for b in r.content] == ["text"]
    assert r.content[0].type == "text"
    assert r.content[0].text == "one two three"
    assert (r.stop_reason, r.stop_sequence) == ("end_turn", None)
    assert (r.usage.input_tokens, r.usage.output_tokens) == (5, 3)
    assert r.model_dump()["meta"]["usage"]["credits_used"] == 8


def test_max_tokens_stop(client: anthropic.Anthropic) -> None:
    r = client.messages.create(model=FAKE, max_tokens=2, messages=USER)
    assert r.stop_reason == "max_tokens"


def test_bearer_works_too(server: Server, key: str) -> None:
    r = httpx2.post(
        f"{server.url}/messages",
        json={"model": FAKE, "max_tokens": 5, "messages": USER},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text


def test_stream_has_anthropics_exact_event_sequence(server: Server, key: str) -> None:
    r = post(server, {"model": FAKE, "max_tokens": 50, "messages": USER, "stream": True}, key=key)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    seq = events(r.text)
    assert [t for t, _ in seq] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = seq[0][1]["message"]
    assert start["id"].startswith("msg_")
    assert (start["content"], start["stop_reason"], start["model"]) == ([], None, "echo-1")
    assert seq[2][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert "".join(p["delta"]["text"] for t, p in seq if t == "content_block_delta") == "one two three"
    assert all(p["delta"]["type"] == "text_delta" and p["index"] == 0 for t, p in seq if t == "content_block_delta")
    delta = seq[7][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert (delta["usage"]["input_tokens"], delta["usage"]["output_tokens"]) == (3, 3)
    assert delta["meta"]["usage"]["credits_used"] == 6


def test_sdk_stream_helper(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=FAKE, max_tokens=50, messages=USER) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one two three"
    assert final.usage.input_tokens == 3
    assert final.stop_reason == "end_turn"


def test_forced_tool_use_and_its_stream(client: anthropic.Anthropic, server: Server, key: str) -> None:
    r = client.messages.create(
        model=FAKE,
        max_tokens=50,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    assert r.stop_reason == "tool_use"
    (block,) = r.content
    assert block.type == "tool_use"
    assert (block.name, block.input) == ("get_weather", {})
    body = {
        "model": FAKE,
        "max_tokens": 50,
        "stream": True,
        "tools": [WEATHER],
        "tool_choice": {"type": "any"},
        "messages": [{"role": "user", "content": "weather?"}],
    }
    seq = events(post(server, body, key=key).text)
    starts = [p for t, p in seq if t == "content_block_start"]
    assert starts[0]["content_block"]["type"] == "tool_use"
    assert starts[0]["content_block"]["name"] == "get_weather"
    assert [p["delta"]["type"] for t, p in seq if t == "content_block_delta"] == ["input_json_delta"]
    assert seq[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_tool_round_trip(client: anthropic.Anthropic) -> None:
    r = client.messages.create(
        model=FAKE,
        max_tokens=50,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {"type": "text", "text": "and so?"},
                ],
            },
        ],
    )
    assert r.content[0].type == "text"
    assert r.content[0].text == "and so?"


# ---- errors ----------------------------------------------------------------------------------


def test_missing_and_wrong_keys_are_anthropic_401s(server: Server) -> None:
    anthropic_error(
        post(server, {"model": FAKE, "max_tokens": 5, "messages": USER}, key=None), 401, "authentication_error"
    )
    anthropic_error(
        post(server, {"model": FAKE, "max_tokens": 5, "messages": USER}, key="0" * 32), 401, "authentication_error"
    )
    with (
        anthropic.Anthropic(base_url=server.url, api_key="wrong", max_retries=0) as client,
        pytest.raises(anthropic.AuthenticationError),
    ):
        client.messages.create(model=FAKE, max_tokens=5, messages=USER)


@pytest.mark.parametrize(
    ("body", "status", "kind", "says"),
    [
        ({"model": FAKE, "messages": USER}, 400, "invalid_request_error", "max_tokens"),
        ({"model": FAKE, "max_tokens": 5, "messages": []}, 400, "invalid_request_error", "messages"),
        (
            {"model": FAKE, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            400,
            "invalid_request_error",
            "role",
        ),
        (
            {"model": FAKE, "max_tokens": 5, "messages": USER, "temperature": 1.5},
            400,
            "invalid_request_error",
            "temperature",
        ),
        ({"model": FAKE, "max_tokens": 5, "messages": USER, "wat": 1}, 400, "invalid_request_error", "wat"),
        (
            {"model": FAKE, "max_tokens": 5, "messages": USER, "tools": [{"name": "a b", "input_schema": {}}]},
            400,
            "invalid_request_error",
            "'tools[0].name'",
        ),
        ({"model": "nope/nothing", "max_tokens": 5, "messages": USER}, 404, "not_found_error", "nope"),
        (
            {"model": FAKE, "max_tokens": 5, "messages": [{"role": "user", "content": "OVERLOADED"}]},
            529,
            "overloaded_error",
            "busy",
        ),
        ({"model": FAKE, "max_tokens": 5, "messages": [{"role": "user", "content": "FAIL"}]}, 502, "api_error", "fake"),
    ],
)
def test_errors_have_anthropics_shape(
    server: Server, key: str, body: dict[str, Any], status: int, kind: str, says: str
) -> None:
    assert says in anthropic_error(post(server, body, key=key), status, kind)


def test_credits_exhausted_is_a_billing_error(server: Server) -> None:
    poor = server.new_key(credits=1)[0]
    anthropic_error(post(server, {"model": FAKE, "max_tokens": 500, "messages": USER}, key=poor), 402, "billing_error")


def test_missing_scope_is_a_permission_error(server: Server) -> None:
    limited = server.new_key(credits=1_000)[0]
    r = httpx2.patch(
        f"{server.url}/v1/keys/{limited[:8]}",
        json={"scopes": ["model:responses"]},
        headers={"Authorization": "Bearer mk-test"},
    )
    assert r.status_code == 200, r.text
    anthropic_error(
        post(server, {"model": FAKE, "max_tokens": 5, "messages": USER}, key=limited), 403, "permission_error"
    )


def test_unknown_routes_and_methods_under_messages(server: Server, key: str) -> None:
    anthropic_error(post(server, {}, key=key, path="/v1/messages/batches"), 404, "not_found_error")
    anthropic_error(httpx2.get(f"{server.url}/v1/messages"), 405, "invalid_request_error")
    invalid = httpx2.post(f"{server.url}/v1/messages", content=b"{oops", headers={"x-api-key": key})
    anthropic_error(invalid, 400, "invalid_request_error")


def test_failure_mid_stream_is_an_error_event(client: anthropic.Anthropic, server: Server, key: str) -> None:
    body = {
        "model": FAKE,
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "FAIL-MIDSTREAM"}],
    }
    seq = events(post(server, body, key=key).text)
    assert seq[-1] == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": seq[-1][1]["error"]["message"]}},
    )
    assert "message_stop" not in [t for t, _ in seq]
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(
            model=FAKE, max_tokens=50, messages=[{"role": "user", "content": "FAIL-MIDSTREAM"}]
        ) as stream,
    ):
        for _ in stream:
            pass


# ---- translation into the canonical request ----------------------------------------------------


def canonical(**body: Any) -> Any:
    return MessagesRequest.model_validate({"model": "m", "max_tokens": 4000, **body}).to_canonical(
        require_max_tokens=True
    )


def test_translation_of_system_images_documents_and_tools() -> None:
    request = canonical(
        system=[{"type": "text", "text": "rules"}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "42"}]},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "oops", "is_error": True},
                ],
            },
        ],
        tools=[{"name": "f", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
    )
    assert request.messages == (
        Message("system", (TextPart("rules"),)),
        Message(
            "user",
            (
                TextPart("look"),
                ImagePart("data:image/png;base64,iVBOR"),
                ImagePart("https://example.com/a.jpg"),
                FilePart(file_data="data:application/pdf;base64,JVBER"),
            ),
        ),
        Message("assistant", (TextPart("calling"),), tool_calls=(ToolCall("toolu_1", "f", '{"a":1}'),)),
        Message("tool", (TextPart("42"),), tool_call_id="toolu_1"),
        Message("tool", (TextPart("Error: "), TextPart("oops")), tool_call_id="toolu_2"),
    )
    assert request.tool_choice == NamedToolChoice("f")
    assert request.parallel_tool_calls is False
    assert request.sampling.stop == ("END",)
    assert request.user == "u-1"
    assert request.response_format == JsonSchemaFormat("output", {"type": "object"})
    assert request.requested == {"stop", "tools", "tool_choice", "parallel_tool_calls", "response_format"}


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, "low"),
        ({"type": "enabled", "budget_tokens": 2000}, "medium"),
        ({"type": "enabled", "budget_tokens": 3200}, "high"),
        ({"type": "adaptive"}, "medium"),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking_maps_to_reasoning_effort(thinking: dict[str, Any], effort: str | None) -> None:
    request = canonical(messages=USER, thinking=thinking)
    assert request.reasoning_effort == effort
    assert "reasoning_effort" not in request.requested  # asked of every model: dropped where none reasons


def test_thinking_budget_must_stay_below_max_tokens() -> None:
    with pytest.raises(InvalidRequest) as caught:
        canonical(messages=USER, thinking={"type": "enabled", "budget_tokens": 4000})
    assert caught.value.param == "max_tokens"


def test_tool_choice_any_and_none() -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    assert canonical(messages=USER, tools=tools, tool_choice={"type": "any"}).tool_choice == "required"
    assert canonical(messages=USER, tools=tools, tool_choice={"type": "none"}).tool_choice == "none"


# ---- Anthropic-style bodies on /v1/chat/completions (seed-survey §2.2) ---------------------------


def test_detection_of_anthropic_style_bodies() -> None:
    openai_body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}
    assert not is_anthropic_style(openai_body)
    assert not is_anthropic_style({**openai_body, "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert is_anthropic_style({**openai_body, "system": "s"})
    # OpenAI clients send these for Claude models too (tests/api/test_body_detection.py).
    assert not is_anthropic_style({**openai_body, "stop_sequences": ["x"]})
    assert not is_anthropic_style({**openai_body, "thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert is_anthropic_style({**openai_body, "tools": [{"name": "f", "input_schema": {}}]})
    tool_use = {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
    assert is_anthropic_style({"model": "m", "messages": [tool_use]})


def test_anthropic_style_body_on_chat_completions(server: Server, key: str) -> None:
    body = {
        "model": FAKE,
        "system": "You are terse.",
        "stop_sequences": ["three"],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "one two three four"}]}],
    }
    r = httpx2.post(f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "chat.completion"
    assert out["choices"][0]["message"]["content"] == "one two"
    assert out["usage"]["prompt_tokens"] == 7
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
    body["messages"] = [{"role": "user", "content": [image]}]
    r = httpx2.post(f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unsupported_content"  # read as an image part, OpenAI-shaped error


def test_thinking_asked_of_a_model_without_reasoning_is_dropped(server: Server, key: str) -> None:
    """Claude Code asks every model for thinking: one that cannot think answers without it."""
    body = {"model": FAKE, "max_tokens": 2000, "messages": USER, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    r = httpx2.post(f"{server.url}/v1/messages", json=body, headers={"x-api-key": key})
    assert r.status_code == 200, r.text
    assert [b["type"] for b in r.json()["content"]] == ["text"]
