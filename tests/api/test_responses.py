"""``POST /v1/responses`` (OpenAI Responses API) on the deterministic fake model, through the
official ``openai`` SDK: the response object, the stream's events and ``sequence_number``s,
function calls and their outputs, the ``model:responses`` scope, and errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import orjson
import pytest

from tests.serving import Server, fake_settings
from unigate.api.openai.responses.schema import ResponsesRequest
from unigate.core.chat import JsonSchemaFormat, Message, NamedToolChoice, TextPart, ToolCall

FAKE = "fake/echo"
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("responses"), management_key="mk-test")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=10_000_000)[0]


@pytest.fixture(scope="module")
def client(server: Server, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0) as client:
        yield client


def post(server: Server, key: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(f"{server.url}/v1/responses", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def events(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        if block.strip():
            name, data = block.split("\n", 1)
            payload = orjson.loads(data.removeprefix("data: "))
            assert payload["type"] == name.removeprefix("event: ")
            out.append(payload)
    return out


def test_create(client: openai.OpenAI) -> None:
    r = client.responses.create(model=FAKE, input="one two three", instructions="be terse", max_output_tokens=50)
    assert r.id.startswith("resp_")
    assert (r.object, r.status, r.model) == ("response", "completed", "echo-1")
    assert r.output_text == "one two three"
    (item,) = r.output
    assert item.type == "message"
    assert (item.role, item.status) == ("assistant", "completed")
    assert (r.instructions, r.max_output_tokens, r.model_dump()["store"]) == ("be terse", 50, True)
    assert r.usage is not None
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (5, 3, 8)
    assert r.model_dump()["meta"]["usage"]["credits_used"] == 8


def test_max_output_tokens_makes_it_incomplete(client: openai.OpenAI) -> None:
    r = client.responses.create(model=FAKE, input="one two three", max_output_tokens=2)
    assert r.status == "incomplete"
    assert r.incomplete_details is not None
    assert r.incomplete_details.reason == "max_output_tokens"
    assert r.output_text == "one two"


def test_stream_events_and_sequence_numbers(client: openai.OpenAI, server: Server, key: str) -> None:
    seq = events(post(server, key, {"model": FAKE, "input": "one two three", "stream": True}).text)
    assert [e["type"] for e in seq] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in seq] == list(range(len(seq)))
    assert seq[0]["response"]["status"] == "in_progress"
    item_id = seq[2]["item"]["id"]
    assert all(e["item_id"] == item_id for e in seq[3:9])
    assert seq[9]["item"]["id"] == item_id
    assert seq[7]["text"] == "one two three"
    final = seq[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "one two three"
    assert final["usage"]["output_tokens"] == 3
    assert final["meta"]["usage"]["credits_used"] == 6

    with client.responses.stream(model=FAKE, input="one two three") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        response = stream.get_final_response()
    assert "".join(deltas) == response.output_text == "one two three"


def test_function_call_round_trip(client: openai.OpenAI) -> None:
    r = client.responses.create(model=FAKE, input="weather in Paris?", tools=TOOLS, tool_choice="required")
    (call,) = r.output
    assert call.type == "function_call"
    assert (call.name, call.arguments, call.status) == ("get_weather", "{}", "completed")
    assert call.id is not None
    assert call.id.startswith("fc_")
    follow_up = client.responses.create(
        model=FAKE,
        tools=TOOLS,
        input=[
            {"role": "user", "content": "weather in Paris?"},
            call.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert follow_up.output_text == "weather in Paris?"


def test_function_call_stream(server: Server, key: str) -> None:
    body = {"model": FAKE, "input": "w?", "tools": TOOLS, "tool_choice": {"type": "function", "name": "get_weather"}}
    seq = events(post(server, key, {**body, "stream": True}).text)
    assert [e["type"] for e in seq] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert seq[2]["item"]["type"] == "function_call"
    assert seq[4]["arguments"] == "{}"
    assert seq[-1]["response"]["tool_choice"] == {"type": "function", "name": "get_weather"}


def test_failure_mid_stream_is_an_error_then_failed(server: Server, key: str) -> None:
    seq = events(post(server, key, {"model": FAKE, "input": "FAIL-MIDSTREAM", "stream": True}).text)
    assert [e["type"] for e in seq[-2:]] == ["error", "response.failed"]
    assert seq[-2]["code"] == "upstream_error"
    assert seq[-1]["response"]["status"] == "failed"
    assert seq[-1]["response"]["error"]["code"] == "upstream_error"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"input": "x"}, 400, "model"),
        ({"model": FAKE}, 400, "input"),
        ({"model": FAKE, "input": "x", "previous_response_id": "resp_1"}, 404, "previous_response_id"),
        ({"model": FAKE, "input": "x", "background": True, "store": False}, 400, "store"),
        ({"model": FAKE, "input": "x", "background": True, "stream": True}, 400, "stream"),
        ({"model": FAKE, "input": "x", "conversation": "conv_1"}, 400, "conversation"),
        ({"model": FAKE, "input": [{"type": "item_reference", "id": "msg_1"}]}, 400, "input[0]"),
        ({"model": FAKE, "input": "x", "tools": [{"type": "custom", "name": "apply_patch"}]}, 400, "tools[0]"),
        (
            {
                "model": FAKE,
                "input": [
                    {"role": "user", "content": "x"},
                    {"type": "custom_tool_call", "call_id": "c", "name": "n", "input": ""},
                ],
            },
            400,
            "input[1]",
        ),
        ({"model": FAKE, "input": "x", "temperature": 3}, 400, "temperature"),
        ({"model": FAKE, "input": "x", "wat": 1}, 400, "wat"),
        ({"model": FAKE, "input": "x", "tool_choice": "required"}, 400, "tool_choice"),
        ({"model": FAKE, "input": "x", "reasoning": {"effort": "high"}}, 400, "reasoning_effort"),
        ({"model": "nope/nothing", "input": "x"}, 404, "model"),
    ],
)
def test_bad_requests_get_openai_errors(
    server: Server, key: str, body: dict[str, Any], status: int, param: str
) -> None:
    r = post(server, key, body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param


def test_the_responses_scope_is_needed(server: Server) -> None:
    chat_only = server.new_key(credits=1_000)[0]
    r = httpx2.patch(
        f"{server.url}/v1/keys/{chat_only[:8]}",
        json={"scopes": ["model:chat"]},
        headers={"Authorization": "Bearer mk-test"},
    )
    assert r.status_code == 200, r.text
    denied = post(server, chat_only, {"model": FAKE, "input": "x"})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "missing_scope"


def test_translation_of_items() -> None:
    wire = ResponsesRequest.model_validate(
        {
            "model": "m",
            "instructions": "rules",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "calling", "annotations": []}],
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "f", "arguments": '{"a":1}'},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {"type": "function_call_output", "call_id": "c2", "output": "two"},
            ],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
        }
    )
    request = wire.to_canonical()
    assert request.messages == (
        Message("system", (TextPart("rules"),)),
        Message("user", (TextPart("hi"),)),
        Message(
            "assistant", (TextPart("calling"),), tool_calls=(ToolCall("c1", "f", "{}"), ToolCall("c2", "f", '{"a":1}'))
        ),
        Message("tool", (TextPart("one"),), tool_call_id="c1"),
        Message("tool", (TextPart("two"),), tool_call_id="c2"),
    )
    assert request.tool_choice == NamedToolChoice("f")
    assert request.response_format == JsonSchemaFormat("out", {"type": "object"})
    assert request.requested == {"tools", "tool_choice", "response_format"}
