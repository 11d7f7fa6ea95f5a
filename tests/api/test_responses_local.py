"""The official ``openai`` SDK's Responses API, unchanged, against ``unigate`` serving the embedded
SmolLM2 model: create, stream, structured output and a forced function-call round trip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest

from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.settings import LocalModelSettings

pytestmark = pytest.mark.model

MODEL = LOCAL_CHAT_MODEL_ID
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 40}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = fake_settings(tmp_path_factory.mktemp("local"), fake_models=False, local=LocalModelSettings(n_ctx=2048))
    running = Server(settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(local_server: Server) -> Iterator[openai.OpenAI]:
    key, _ = local_server.new_key(credits=2_000_000_000)
    with openai.OpenAI(base_url=f"{local_server.url}/v1", api_key=key, max_retries=0, timeout=120) as client:
        yield client


def test_create(client: openai.OpenAI) -> None:
    r = client.responses.create(model=MODEL, instructions="You are terse.", input="Name a color.", max_output_tokens=24)
    assert r.model == MODEL
    assert r.status in {"completed", "incomplete"}
    assert r.output_text
    assert r.usage is not None
    assert 0 < r.usage.output_tokens <= 24
    assert r.model_dump()["meta"]["usage"]["credits_used"] > 0


def test_stream_matches_create(client: openai.OpenAI) -> None:
    args: dict[str, Any] = {"model": MODEL, "input": "Count to five.", "max_output_tokens": 24, "temperature": 0}
    events = list(client.responses.create(stream=True, **args))
    assert events[0].type == "response.created"
    assert events[-1].type in {"response.completed", "response.incomplete"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    whole = client.responses.create(**args)
    assert streamed == whole.output_text
    final = events[-1].response
    assert final.output_text == streamed


def test_json_schema_text_format(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"color": {"type": "string", "maxLength": 20}},
        "required": ["color"],
        "additionalProperties": False,
    }
    r = client.responses.create(
        model=MODEL,
        input="Give me a color as JSON.",
        text={"format": {"type": "json_schema", "name": "color", "schema": schema}},
        max_output_tokens=60,
        temperature=0,
    )
    assert r.status == "completed"
    jsonschema.validate(json.loads(r.output_text), schema)


def test_forced_function_call_round_trip(client: openai.OpenAI) -> None:
    question: Any = {"role": "user", "content": "What's the weather in Oslo?"}
    r = client.responses.create(
        model=MODEL, input=[question], tools=[WEATHER], tool_choice="required", max_output_tokens=60, temperature=0
    )
    (call,) = r.output
    assert call.type == "function_call"
    assert call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])
    answer = client.responses.create(
        model=MODEL,
        tools=[WEATHER],
        max_output_tokens=24,
        input=[
            question,
            call.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"},
        ],
    )
    assert answer.output_text


def test_forced_function_call_streams(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model=MODEL,
        input="Weather in Rome?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens=60,
        temperature=0,
    ) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.function_call_arguments.delta")
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call"
    assert call.arguments == deltas
    jsonschema.validate(json.loads(deltas), WEATHER["parameters"])
