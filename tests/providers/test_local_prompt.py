"""Rendering canonical messages with a chat template, and reading tool calls back."""

from __future__ import annotations

import json

from unigate.core.chat import ChatRequest, FunctionTool, Message, NamedToolChoice, TextPart, ToolCall
from unigate.providers.local.prompt import CHATML_TEMPLATE, ChatTemplate, parse_call, prompt_messages

WEATHER = FunctionTool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
STRICT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unknown role') }}{% endif %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}[assistant]"
)


def text(role: str, value: str, **extra: object) -> Message:
    return Message(role, (TextPart(value),), **extra)  # type: ignore[arg-type]


def request(*messages: Message, **options: object) -> ChatRequest:
    return ChatRequest(model="m", messages=messages, **options)  # type: ignore[arg-type]


def test_developer_becomes_system_and_chatml_renders() -> None:
    template = ChatTemplate(CHATML_TEMPLATE, bos_token="<s>", eos_token="</s>")
    prompt = template.render_request(request(text("developer", "Be brief."), text("user", "Hi")))
    assert prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_tool_history_renders_as_calls_and_tool_turns() -> None:
    call = ToolCall("call_1", "get_weather", '{"city":"Oslo"}')
    turns = prompt_messages(
        request(
            text("user", "Weather in Oslo?"),
            Message("assistant", tool_calls=(call,)),
            text("tool", '{"temp": -3}', tool_call_id="call_1"),
        )
    )
    assert turns[1] == {"role": "assistant", "content": '{"name": "get_weather", "arguments": {"city": "Oslo"}}'}
    assert turns[2] == {"role": "tool", "content": '{"temp": -3}'}


def test_templates_without_a_tool_role_get_labelled_user_turns() -> None:
    template = ChatTemplate(STRICT_TEMPLATE, bos_token="", eos_token="")
    call = ToolCall("call_1", "get_weather", "{}")
    prompt = template.render_request(
        request(
            text("user", "Hi"), Message("assistant", tool_calls=(call,)), text("tool", "sunny", tool_call_id="call_1")
        )
    )
    assert "[user]Result of get_weather:\nsunny" in prompt


def test_tools_are_described_in_the_system_message() -> None:
    base = request(text("system", "You help."), text("user", "Hi"), tools=(WEATHER,))
    auto = prompt_messages(base)
    assert auto[0]["role"] == "system"
    assert auto[0]["content"].startswith("You help.\n\nYou can call these functions.")
    assert (
        json.dumps({"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER.parameters})
        in auto[0]["content"]
    )
    named = prompt_messages(request(text("user", "Hi"), tools=(WEATHER,), tool_choice=NamedToolChoice("get_weather")))
    assert named[0]["role"] == "system"
    assert "Call the function 'get_weather' now" in named[0]["content"]
    hidden = prompt_messages(request(text("user", "Hi"), tools=(WEATHER,), tool_choice="none"))
    assert hidden == [{"role": "user", "content": "Hi"}]


def test_parse_call_accepts_only_one_valid_call() -> None:
    tools = (WEATHER,)
    assert parse_call('{"name": "get_weather", "arguments": {"city": "Oslo"}}', tools) == (
        "get_weather",
        '{"city":"Oslo"}',
    )
    assert parse_call('{"name": "get_weather", "parameters": "{\\"city\\": \\"Oslo\\"}"}', tools) == (
        "get_weather",
        '{"city":"Oslo"}',
    )
    assert parse_call('{"name": "get_weather", "arguments": {}}', tools) is None  # city is required
    assert parse_call('{"name": "other", "arguments": {"city": "Oslo"}}', tools) is None
    assert parse_call('{"name": "get_weather", "arguments": {"city": "Oslo"}, "x": 1}', tools) is None
    assert parse_call('{"name": "get_weather", "arguments": {"city": "Oslo"}} and more', tools) is None
    assert parse_call("[1, 2]", tools) is None
