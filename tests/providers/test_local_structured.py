"""JSON output and tool calls from the local model: grammar-constrained, then validated."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import FunctionTool, JsonObjectFormat, JsonSchemaFormat, NamedToolChoice, ToolChoice
from unigate.core.results import ChoiceDelta, StreamEvent, ToolCallDelta
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.providers.local import LocalProvider

from .conftest import Ask

pytestmark = pytest.mark.model

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "mood": {"type": "string", "enum": ["happy", "sad", "calm"]},
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "hobbies": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    },
    "required": ["mood", "age", "hobbies"],
    "additionalProperties": False,
}
WEATHER = FunctionTool(
    "get_weather",
    "Get the current weather for a city",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 24},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city", "unit"],
    },
)
TIME = FunctionTool(
    "get_time",
    "Get the time in a timezone",
    {"type": "object", "properties": {"tz": {"type": "string", "maxLength": 16}}, "required": ["tz"]},
)
NOTHING = FunctionTool("ping", "Check that the service is up")
TOOLS = (WEATHER, TIME, NOTHING)
SCHEMA_PARAM = "response_format.json_schema.schema"


def valid_arguments(tool: FunctionTool, arguments: str) -> bool:
    return bool(
        Draft202012Validator(tool.parameters or {"additionalProperties": False}).is_valid(json.loads(arguments))
    )


async def test_json_object_output_parses(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask("Give me a JSON object describing a cat.", response_format=JsonObjectFormat(), seed=1, max_tokens=48)
    choice = (await local.complete(request, spec)).choices[0]
    assert (choice.content or "").startswith("{")
    if choice.finish_reason == "stop":
        assert isinstance(json.loads(choice.content or ""), dict)


async def test_json_schema_output_validates(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    validator = Draft202012Validator(PERSON)
    for seed in range(4):
        request = ask(
            "Describe a person as JSON.",
            response_format=JsonSchemaFormat("person", PERSON),
            seed=seed,
            temperature=1.0,
            max_tokens=120,
        )
        choice = (await local.complete(request, spec)).choices[0]
        assert choice.finish_reason == "stop", choice
        assert validator.is_valid(json.loads(choice.content or "")), choice.content


async def test_json_schema_stream_matches_complete(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask(
        "Describe a person as JSON.", response_format=JsonSchemaFormat("person", PERSON), temperature=0, max_tokens=120
    )
    complete = (await local.complete(request, spec)).choices[0].content
    events = [e async for e in local.stream(request, spec)]
    deltas = [e for e in events if isinstance(e, ChoiceDelta)]
    assert "".join(d.content or "" for d in deltas) == complete
    assert len([d for d in deltas if d.content]) > 3


async def test_named_tool_choice_gives_valid_arguments(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    for tool, seed in ((WEATHER, 1), (WEATHER, 2), (TIME, 3), (NOTHING, 4)):
        request = ask(
            "What's the weather like in Paris?",
            tools=TOOLS,
            tool_choice=NamedToolChoice(tool.name),
            seed=seed,
            max_tokens=60,
        )
        choice = (await local.complete(request, spec)).choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.content is None
        (call,) = choice.tool_calls
        assert call.name == tool.name
        assert call.id.startswith("call_")
        assert len(call.id) == 29
        assert valid_arguments(tool, call.arguments), call.arguments
        assert json.dumps(json.loads(call.arguments), separators=(",", ":"), ensure_ascii=False) == call.arguments


async def test_required_tool_choice_gives_one_valid_call(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    tools = {t.name: t for t in TOOLS}
    for seed in range(3):
        request = ask(
            "What's the weather like in Paris?", tools=TOOLS, tool_choice="required", seed=seed, max_tokens=60
        )
        choice = (await local.complete(request, spec)).choices[0]
        assert choice.finish_reason == "tool_calls"
        (call,) = choice.tool_calls
        assert valid_arguments(tools[call.name], call.arguments), call.arguments


@pytest.mark.parametrize("tool_choice", ["required", NamedToolChoice("get_weather")])
async def test_streamed_tool_call_matches_complete(
    local: LocalProvider, spec: ModelSpec, ask: Ask, tool_choice: ToolChoice
) -> None:
    request = ask("Weather in Rome, in celsius?", tools=TOOLS, tool_choice=tool_choice, temperature=0, max_tokens=60)
    (call,) = (await local.complete(request, spec)).choices[0].tool_calls
    events = [e async for e in local.stream(request, spec)]
    deltas = [e for e in events if isinstance(e, ChoiceDelta)]
    pieces = [piece for d in deltas for piece in d.tool_calls]
    assert pieces[0].id is not None
    assert pieces[0].id.startswith("call_")
    assert pieces[0].name == call.name
    assert all(p.id is None and p.name is None for p in pieces[1:])
    assert len(pieces) > 2  # the arguments stream as they are generated
    assert "".join(p.arguments for p in pieces) == call.arguments
    assert all(d.content is None for d in deltas)
    assert deltas[-1].finish_reason == "tool_calls"


ECHO_CALL = (
    "Repeat exactly this text and nothing else: "
    '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'
)


async def test_auto_returns_a_call_when_the_reply_is_one(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask(ECHO_CALL, tools=TOOLS, temperature=0, max_tokens=40)
    choice = (await local.complete(request, spec)).choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris", "unit": "celsius"})
    events: list[StreamEvent] = [e async for e in local.stream(request, spec)]
    pieces = [p for e in events if isinstance(e, ChoiceDelta) for p in e.tool_calls]
    assert pieces == [ToolCallDelta(0, pieces[0].id, "get_weather", call.arguments)]


async def test_auto_text_streams_as_text(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask("Say hello to Ann.", tools=TOOLS, temperature=0, max_tokens=20)
    choice = (await local.complete(request, spec)).choices[0]
    assert choice.tool_calls == ()
    assert choice.content
    events = [e async for e in local.stream(request, spec)]
    texts = [e.content for e in events if isinstance(e, ChoiceDelta) and e.content]
    assert len(texts) > 2
    assert "".join(texts) == choice.content


async def test_none_hides_tools(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask(ECHO_CALL, tools=TOOLS, tool_choice="none", temperature=0, max_tokens=40)
    choice = (await local.complete(request, spec)).choices[0]
    assert choice.tool_calls == ()
    assert local.estimate_prompt_tokens(request, spec) < local.estimate_prompt_tokens(ask(ECHO_CALL, tools=TOOLS), spec)


async def test_auto_with_json_format_allows_content_or_call(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask(
        "Describe a person as JSON.",
        tools=TOOLS,
        response_format=JsonSchemaFormat("person", PERSON),
        temperature=0,
        max_tokens=120,
    )
    choice = (await local.complete(request, spec)).choices[0]
    if choice.tool_calls:
        assert choice.finish_reason == "tool_calls"
    else:
        assert Draft202012Validator(PERSON).is_valid(json.loads(choice.content or ""))


@pytest.mark.parametrize(
    ("schema", "error", "param"),
    [
        ({"type": "string", "pattern": "^a+$"}, UnsupportedParameter, SCHEMA_PARAM),
        ({"type": "array", "uniqueItems": True}, UnsupportedParameter, SCHEMA_PARAM),
        ({"$ref": "https://example.com/schema.json"}, UnsupportedParameter, SCHEMA_PARAM),
        ({"type": "integer", "minimum": 5, "maximum": 1}, UnsupportedParameter, SCHEMA_PARAM),
        ({"type": "nonsense"}, InvalidRequest, SCHEMA_PARAM),
        ({"type": "object", "properties": {"a": {"minimum": "zero"}}}, InvalidRequest, SCHEMA_PARAM),
    ],
)
def test_check_rejects_schemas(
    local: LocalProvider, spec: ModelSpec, ask: Ask, schema: dict[str, Any], error: type[Exception], param: str
) -> None:
    request = ask("x", response_format=JsonSchemaFormat("s", schema))
    with pytest.raises(error) as caught:
        local.check(request, spec)
    assert type(caught.value) is error
    assert getattr(caught.value, "param", None) == param


def test_check_rejects_tool_problems(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    patterned = FunctionTool("f", None, {"type": "object", "properties": {"a": {"type": "string", "pattern": "^x$"}}})
    with pytest.raises(UnsupportedParameter) as caught:
        local.check(ask("x", tools=(patterned,), tool_choice="required"), spec)
    assert caught.value.param == "tools"
    local.check(ask("x", tools=(patterned,)), spec)  # auto only validates afterwards: fine
    with pytest.raises(InvalidRequest) as unknown:
        local.check(ask("x", tools=TOOLS, tool_choice=NamedToolChoice("nope")), spec)
    assert unknown.value.param == "tool_choice"
    with pytest.raises(InvalidRequest) as bias:
        local.check(ask("x", logit_bias={10**6: 1.0}), spec)
    assert bias.value.param == "logit_bias"
    local.check(ask("x", tools=TOOLS, tool_choice="required", response_format=JsonSchemaFormat("p", PERSON)), spec)
