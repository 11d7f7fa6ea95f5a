"""The official ``openai`` SDK, unchanged, against ``unigate`` serving the embedded SmolLM2 model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import jsonschema
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam
from pydantic import BaseModel, Field

from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.settings import LocalModelSettings

pytestmark = pytest.mark.model

MODEL = LOCAL_CHAT_MODEL_ID


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("local")
    settings = fake_settings(data_dir, fake_models=False, local=LocalModelSettings(n_ctx=2048))
    running = Server(settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(local_server: Server) -> Iterator[openai.OpenAI]:
    key, _ = local_server.new_key(credits=2_000_000_000)
    with openai.OpenAI(base_url=f"{local_server.url}/v1", api_key=key, max_retries=0, timeout=120) as client:
        yield client


def test_create(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=24, seed=7
    )
    assert r.object == "chat.completion"
    assert r.model == MODEL
    assert isinstance(r.choices[0].message.content, str)
    assert r.choices[0].message.content
    assert r.choices[0].finish_reason in {"stop", "length"}
    assert r.usage is not None
    assert 0 < r.usage.completion_tokens <= 24
    meta: dict[str, Any] = r.model_dump()["meta"]
    assert meta["usage"]["credits_used"] > 0
    assert meta["usage"]["usd_spent"] == meta["usage"]["credits_used"] / 2_000_000


def test_alias_resolves(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert r.model == MODEL


def test_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Count to five."}],
        max_tokens=32,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 3
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishes) == 1
    assert finishes[0] in {"stop", "length"}
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens >= len(deltas)
    assert last.model_dump()["meta"]["usage"]["credits_used"] > 0

    whole = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Count to five."}],
        max_tokens=32,
        temperature=0,
    )
    assert whole.choices[0].message.content == "".join(d for d in deltas if d)


PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "role": {"type": "string", "enum": ["admin", "user", "guest"]},
    },
    "required": ["name", "age", "role"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema_output_validates(client: openai.OpenAI, seed: int) -> None:
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Describe a user of a web site as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON_SCHEMA}},
        max_tokens=200,
        seed=seed,
    )
    assert r.choices[0].finish_reason == "stop"
    content = r.choices[0].message.content
    assert content is not None
    jsonschema.validate(json.loads(content), PERSON_SCHEMA)


class Weather(BaseModel):
    city: str = Field(max_length=30)
    unit: Literal["celsius", "fahrenheit"]
    days: int = Field(ge=1, le=7)


def test_sdk_parse_helper_with_a_pydantic_model(client: openai.OpenAI) -> None:
    r = client.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather request for Paris, 3 days, in celsius."}],
        response_format=Weather,
        max_tokens=120,
        seed=5,
    )
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    assert 1 <= parsed.days <= 7


def test_json_object_mode(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model=MODEL,
        # A prompt the 135M model copies: an open-ended one ("a JSON object with a key 'color'")
        # made it loop inside a string until max_tokens on some CPUs (llama.cpp's kernels differ by
        # instruction set, and greedy output with them).
        messages=[{"role": "user", "content": 'Reply with this JSON object: {"color": "blue"}'}],
        response_format={"type": "json_object"},
        max_tokens=200,
        temperature=0,
    )
    assert r.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(r.choices[0].message.content or ""), dict)


WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 40},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string", "maxLength": 30}}, "required": ["tz"]},
    },
}


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_forced_tool_call_arguments_validate(client: openai.OpenAI, choice: Any) -> None:
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What's the weather in Oslo?"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice=choice,
        max_tokens=120,
        seed=11,
    )
    c = r.choices[0]
    assert c.finish_reason == "tool_calls"
    assert c.message.tool_calls
    call = c.message.tool_calls[0]
    assert call.type == "function"
    assert call.id.startswith("call_")
    tools = {"get_weather": WEATHER_TOOL, "get_time": TIME_TOOL}
    if isinstance(choice, dict):
        assert call.function.name == "get_weather"
    schema = tools[call.function.name]["function"]["parameters"]
    jsonschema.validate(json.loads(call.function.arguments), schema)


def test_forced_tool_call_streams(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Rome?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=120,
        seed=2,
        stream=True,
    )
    name, args, finish = "", "", None
    for chunk in stream:
        for tc in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            name += (tc.function.name or "") if tc.function else ""
            args += (tc.function.arguments or "") if tc.function else ""
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert name == "get_weather"
    assert finish == "tool_calls"
    jsonschema.validate(json.loads(args), WEATHER_TOOL["function"]["parameters"])


def test_bad_request_surfaces_as_sdk_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], reasoning_effort="high"
        )
    assert info.value.status_code == 400
    assert info.value.body is not None
