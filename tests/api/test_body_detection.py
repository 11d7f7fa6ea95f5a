"""Which schema reads a ``/v1/chat/completions`` body (``is_anthropic_style``), as properties over
generated bodies: a valid OpenAI body, with or without the Anthropic extensions OpenAI clients send
for Claude models (``thinking``, ``stop_sequences``, ``output_config``), is never taken for an
Anthropic one; a valid Anthropic body with a marker is; one without a marker means the same read
either way. Then the two bodies found from outside, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.providers.emulators import Emulator, EmulatorThread, fixture_json, json_reply, model_spec, provider_config
from tests.serving import Server, fake_settings
from unigate.api.anthropic.schema import DEFAULT_MAX_TOKENS, MessagesRequest, is_anthropic_style
from unigate.api.openai.chat.schema import ChatCompletionRequest
from unigate.api.requests import validate
from unigate.core.chat import ChatRequest
from unigate.core.provider import Provider
from unigate.errors import InvalidRequest
from unigate.providers.anthropic import AnthropicProvider

FAKE = "fake/echo"
PROPERTY = settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(max_size=12)
names = st.from_regex(r"[a-zA-Z0-9_-]{1,12}", fullmatch=True)
max_tokens = st.integers(min_value=1025, max_value=64000)
schema = st.just({"type": "object", "properties": {"a": {"type": "string"}}})

# ---- OpenAI bodies ---------------------------------------------------------------------------

text_part = st.builds(lambda t: {"type": "text", "text": t}, text)
image_part = st.builds(lambda u: {"type": "image_url", "image_url": {"url": "https://x/" + u}}, names)
plain = st.one_of(text, st.lists(text_part, min_size=1, max_size=2))
tool_call = st.builds(
    lambda i, n: {"id": i, "type": "function", "function": {"name": n, "arguments": "{}"}}, names, names
)
openai_message = st.one_of(
    st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(["system", "developer"]), plain),
    st.builds(lambda c: {"role": "user", "content": c}, st.one_of(text, st.lists(text_part | image_part, min_size=1))),
    st.builds(lambda c: {"role": "assistant", "content": c}, plain),
    st.builds(lambda calls: {"role": "assistant", "tool_calls": calls}, st.lists(tool_call, min_size=1, max_size=2)),
    st.builds(lambda c, i: {"role": "tool", "content": c, "tool_call_id": i}, plain, names),
)
function_tool: st.SearchStrategy[dict[str, Any]] = st.builds(
    lambda n, s: {"type": "function", "function": {"name": n, "parameters": s}}, names, schema
)
thinking = st.one_of(
    st.just({"type": "disabled"}),
    st.just({"type": "adaptive"}),
    st.builds(lambda b: {"type": "enabled", "budget_tokens": b}, st.integers(1024, 1024)),
)
output_config = st.fixed_dictionaries(
    {},
    optional={
        "effort": st.sampled_from(["low", "medium", "high", "xhigh", "max"]),
        "format": st.builds(lambda s: {"type": "json_schema", "schema": s}, schema),
    },
)
extras = st.fixed_dictionaries(
    {},
    optional={
        "thinking": thinking,
        "stop_sequences": st.lists(st.text(min_size=1, max_size=5), max_size=3),
        "output_config": output_config,
    },
)


@st.composite
def openai_bodies(draw: st.DrawFn, *, with_extras: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "messages": draw(st.lists(openai_message, min_size=1))}
    body["max_tokens"] = draw(max_tokens)
    tools = draw(st.lists(function_tool, max_size=2, unique_by=lambda t: t["function"]["name"]))
    if tools:
        body["tools"] = tools
        named = {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        body["tool_choice"] = draw(st.sampled_from(["none", "auto", "required", named]))
    added = draw(extras) if with_extras else {}
    body.update(added)
    config = added.get("output_config", {})
    if "stop_sequences" not in added:
        body.update(draw(st.fixed_dictionaries({}, optional={"stop": st.lists(st.text(min_size=1), max_size=4)})))
    if "thinking" not in added and "effort" not in config:
        body.update(draw(st.fixed_dictionaries({}, optional={"reasoning_effort": st.sampled_from(["low", "high"])})))
    if "format" not in config:
        body.update(draw(st.fixed_dictionaries({}, optional={"response_format": st.just({"type": "json_object"})})))
    return body


@PROPERTY
@given(openai_bodies(with_extras=False))
def test_valid_openai_bodies_are_read_as_openai(body: dict[str, Any]) -> None:
    assert not is_anthropic_style(body)
    validate(ChatCompletionRequest, body).to_canonical()


@PROPERTY
@given(openai_bodies(with_extras=True))
def test_openai_bodies_with_anthropic_extensions_are_read_as_openai(body: dict[str, Any]) -> None:
    assert not is_anthropic_style(body)
    chat = validate(ChatCompletionRequest, body).to_canonical()
    assert chat.requested <= {*body.keys(), "stop", "reasoning_effort", "response_format"}
    assert not chat.requested & {"thinking", "stop_sequences", "output_config"}


# ---- Anthropic bodies ------------------------------------------------------------------------

source = st.builds(lambda d: {"type": "base64", "media_type": "image/png", "data": d}, names)
user_block = st.one_of(
    text_part,
    st.builds(lambda s: {"type": "image", "source": s}, source),
    st.builds(lambda d: {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": d}}, text),
    st.builds(lambda i, c: {"type": "tool_result", "tool_use_id": i, "content": c}, names, text),
)
assistant_block = st.one_of(
    text_part,
    st.builds(lambda i, n: {"type": "tool_use", "id": i, "name": n, "input": {"a": "b"}}, names, names),
    st.builds(lambda t: {"type": "thinking", "thinking": t, "signature": "sig"}, text),
)
turn = st.one_of(
    st.builds(lambda c: {"role": "user", "content": c}, st.one_of(text, st.lists(user_block, min_size=1))),
    st.builds(lambda c: {"role": "assistant", "content": c}, st.one_of(text, st.lists(assistant_block, min_size=1))),
)
claude_tool: st.SearchStrategy[dict[str, Any]] = st.builds(lambda n, s: {"name": n, "input_schema": s}, names, schema)


@st.composite
def anthropic_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Anthropic bodies, each with at least one marker: ``system``, a tool, a tool choice or a block."""
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "messages": draw(st.lists(turn, min_size=1, max_size=4))}
    body.update(draw(extras))
    body["max_tokens"] = draw(max_tokens)
    if draw(st.booleans()):
        body["system"] = draw(st.one_of(text, st.lists(text_part, min_size=1, max_size=2)))
    tools = draw(st.lists(claude_tool, max_size=2, unique_by=lambda t: t["name"]))
    if tools:
        body["tools"] = tools
        kinds = st.sampled_from([{"type": "auto"}, {"type": "any"}, {"type": "none"}])
        body["tool_choice"] = draw(kinds | st.just({"type": "tool", "name": tools[0]["name"]}))
    blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
    if "system" not in body and not tools and all(b["type"] == "text" for b in blocks):
        body["system"] = draw(text)
    return body


@PROPERTY
@given(anthropic_bodies())
def test_valid_anthropic_bodies_are_read_as_anthropic(body: dict[str, Any]) -> None:
    assert is_anthropic_style(body)
    validate(MessagesRequest, body).to_canonical(require_max_tokens=False)


def meaning(chat: ChatRequest) -> tuple[Any, ...]:
    return (chat.messages, chat.max_tokens, chat.sampling, chat.response_format, chat.reasoning_effort)


@PROPERTY
@given(
    st.lists(
        st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(["user", "assistant"]), plain),
        min_size=1,
        max_size=4,
    ),
    extras,
    max_tokens,
)
def test_bodies_without_markers_mean_the_same_either_way(
    messages: list[dict[str, Any]], added: dict[str, Any], bound: int
) -> None:
    """A body valid in both schemas is read as OpenAI's, and the extensions map as Anthropic's."""
    body = {"model": "claude-sonnet-4-5", "messages": messages, "max_tokens": bound, **added}
    assert not is_anthropic_style(body)
    as_openai = validate(ChatCompletionRequest, body).to_canonical()
    as_anthropic = validate(MessagesRequest, body).to_canonical(require_max_tokens=False)
    assert meaning(as_openai) == meaning(as_anthropic)


def test_thinking_budget_without_a_token_bound_is_a_share_of_the_default() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    budget = {"type": "enabled", "budget_tokens": DEFAULT_MAX_TOKENS // 2}
    chat = validate(ChatCompletionRequest, {**body, "thinking": budget}).to_canonical()
    assert (chat.reasoning_effort, chat.max_tokens) == ("medium", None)


def test_an_extension_and_its_openai_counterpart_together_are_refused() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    for extra, param in (
        ({"stop": "a", "stop_sequences": ["b"]}, "stop_sequences"),
        ({"reasoning_effort": "low", "thinking": {"type": "adaptive"}}, "thinking"),
        ({"reasoning_effort": "low", "output_config": {"effort": "high"}}, "output_config.effort"),
        (
            {
                "response_format": {"type": "json_object"},
                "output_config": {"format": {"type": "json_schema", "schema": {}}},
            },
            "output_config.format",
        ),
    ):
        with pytest.raises(InvalidRequest) as caught:
            validate(ChatCompletionRequest, {**body, **extra}).to_canonical()
        assert caught.value.param == param


def test_a_non_string_type_is_no_marker() -> None:
    assert not is_anthropic_style({"messages": [{"role": "user", "content": [{"type": ["x"]}]}]})
    assert not is_anthropic_style({"messages": [], "tool_choice": {"type": {"a": 1}}})


# ---- over HTTP: the bodies found from outside --------------------------------------------------


def post(server: Server, key: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(
        f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def test_openai_sdk_body_with_thinking_and_tools_is_read_as_openai(server: Server) -> None:
    """What ``extra_body={"thinking": ...}`` sends: read with the OpenAI schema, so the tools are
    OpenAI's and ``stop_sequences`` applies; the thinking budget, which the fake model cannot use,
    is dropped (the field policy), while OpenAI's own ``reasoning_effort`` is refused."""
    key, _ = server.new_key(credits=10**9)
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    body = {
        "model": FAKE,
        "messages": [{"role": "system", "content": "terse"}, {"role": "user", "content": "one two three"}],
        "tools": [tool],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "max_tokens": 2000,
        "stop_sequences": ["three"],
    }
    r = post(server, key, body)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "one two"
    asked = {k: v for k, v in body.items() if k != "thinking"} | {"reasoning_effort": "high"}
    r = post(server, key, asked)
    assert r.status_code == 400, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("unsupported_parameter", "reasoning_effort")


def test_a_content_block_whose_type_is_a_list_is_a_400(server: Server) -> None:
    key, _ = server.new_key(credits=10**6)
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": [{"type": ["x"]}]}]})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "messages[0].content[0]"


# ---- the openai SDK's extra_body, for a Claude model on an emulated Anthropic upstream ----------

CLAUDE = model_spec("anthropic", "claude-sonnet-4-5", id="anthropic/claude-sonnet-4.5")


@pytest.fixture(scope="module")
def claude(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Emulator]]:
    with EmulatorThread() as upstream:
        providers: dict[str, Provider] = {"anthropic": AnthropicProvider(provider_config("anthropic", upstream.url))}
        data_dir = tmp_path_factory.mktemp("claude")
        running = Server(fake_settings(data_dir), models=[CLAUDE], providers=providers).start()
        yield running, upstream
        running.stop()


def test_openai_sdk_thinking_in_extra_body_reaches_claude(claude: tuple[Server, Emulator]) -> None:
    """The body the issue found failing with 400 ``tools[0].input_schema``: OpenAI's tools and
    system message with ``thinking`` beside them. Read as OpenAI's, it reaches Claude as Claude's
    own request: the system prompt, the tool's ``input_schema``, and extended thinking."""
    server, upstream = claude
    upstream.queue(json_reply(fixture_json("anthropic/message_thinking_tool_use.json")))
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.new_key(credits=10**9)[0], max_retries=0)
    weather: dict[str, object] = {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    }
    answer = client.chat.completions.create(
        model=CLAUDE.id,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": weather}}],
        max_tokens=4096,
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    sent = upstream.last.body
    assert sent["system"] == "Be brief."
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}]
    assert sent["tools"][0]["name"] == "get_weather"
    assert sent["tools"][0]["input_schema"] == weather
    # 1024 of 4096 is a low effort, which Claude is asked for with its smallest budget, 1024.
    assert (sent["thinking"], sent["max_tokens"]) == ({"type": "enabled", "budget_tokens": 1024}, 4096)
    message = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == {"location": "Paris"}
    assert (message.model_extra or {}).get("reasoning_content", "").startswith("The user wants")
