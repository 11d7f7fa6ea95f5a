"""Web search through the OpenAI-compatible adapter, against payloads of OpenAI's search models,
Perplexity Sonar and Kimi's ``$web_search`` replayed by a local emulator: the request each upstream
gets, Kimi's round trip run by the gateway, and the sources read back as ``url_citation``s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from tests.providers.emulators import (
    Emulator,
    chat,
    deltas,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
)
from unigate.core.chat import FunctionTool, Message, Sampling, TextPart, ToolCall, UserLocation, WebSearch
from unigate.core.results import MoreBuffered, StreamEvent, StreamStart, UrlCitation, Usage
from unigate.errors import UnsupportedParameter
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_compat.kimi_search import MAX_SEARCHES

Make = Callable[[str], Awaitable[OpenAICompatProvider]]

SEARCH_PARAMS = frozenset({"max_tokens", "temperature", "tools", "web_search_options", "stream_options"})
GPT_SEARCH = model_spec("openai", "gpt-4o-mini-search-preview", params=SEARCH_PARAMS)
SONAR = model_spec("perplexity", "sonar", params=SEARCH_PARAMS)
KIMI = model_spec("moonshot", "kimi-k2-0905-preview", params=SEARCH_PARAMS)
KIMI_THINKING = model_spec(
    "moonshot",
    "kimi-k2.5",
    params=SEARCH_PARAMS,
    features=("openai/chat-completion", "openai/chat-completion.reasoning"),
)
LONDON = WebSearch("low", UserLocation(country="GB", city="London", timezone="Europe/London"))


@pytest.fixture
async def make(upstream: Emulator) -> AsyncIterator[Make]:
    made: list[OpenAICompatProvider] = []

    async def factory(name: str) -> OpenAICompatProvider:
        provider = OpenAICompatProvider(provider_config(name, upstream.url + "/v1"))
        await provider.start()
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.close()


async def events_of(provider: OpenAICompatProvider, *args: object) -> list[StreamEvent]:
    return [e async for e in provider.stream(*args) if not isinstance(e, MoreBuffered)]  # type: ignore[arg-type]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(d.content or "" for d in deltas(events))


# ---- OpenAI's search models ----------------------------------------------------------------------


async def test_openai_search_model_gets_web_search_options_and_no_temperature(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("openai/search_preview.json")))
    provider = await make("openai")
    request = chat("Please search for AGI.", web_search=LONDON, sampling=Sampling(temperature=0.6))
    result = await provider.complete(request, GPT_SEARCH)

    assert upstream.last.body == {
        "model": "gpt-4o-mini-search-preview",
        "messages": [{"role": "user", "content": "Please search for AGI."}],
        "web_search_options": {
            "search_context_size": "low",
            "user_location": {
                "type": "approximate",
                "approximate": {"country": "GB", "city": "London", "timezone": "Europe/London"},
            },
        },
    }
    (choice,) = result.choices
    assert choice.content is not None
    assert choice.finish_reason == "stop"
    assert [c.url for c in choice.annotations] == [
        "https://usafacts.org/articles/adjusted-gross-income-agi-definition?utm_source=openai",
        "https://en.wikipedia.org/wiki/Artificial_general_intelligence?utm_source=openai",
        "https://en.wikipedia.org/wiki/Alliance_Graphique_Internationale?utm_source=openai",
        "https://en.wikipedia.org/wiki/Agi_language?utm_source=openai",
    ]
    for cite in choice.annotations:  # each span is the inline markdown link to its own url
        assert choice.content[cite.start_index : cite.end_index].endswith(f"]({cite.url}))")
    assert choice.annotations[1].title == "Artificial general intelligence - Wikipedia"


async def test_openai_search_tool_alone_asks_for_search_with_no_options(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("openai/search_preview.json")))
    provider = await make("openai")
    await provider.complete(chat("Please search for AGI.", web_search=WebSearch()), GPT_SEARCH)
    assert upstream.last.body["web_search_options"] == {}
    assert "tools" not in upstream.last.body


async def test_openai_search_stream_carries_the_recorded_annotation(upstream: Emulator, make: Make) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_search_preview.sse")))
    provider = await make("openai")
    events = await events_of(provider, chat("上海乐高乐园", web_search=WebSearch(), stream=True), GPT_SEARCH)

    assert events[0] == StreamStart("gpt-4o-mini-search-preview-2025-03-11")
    cited = [d for d in deltas(events) if d.annotations]
    assert len(cited) == 1
    assert cited[0].finish_reason == "stop"
    assert cited[0].annotations == (
        UrlCitation(
            "https://zh.wikipedia.org/wiki/%E4%B8%8A%E6%B5%B7%E4%B9%90%E9%AB%98%E4%B9%90%E5%9B%AD?utm_source=openai",
            "上海乐高乐园",
            75,
            199,
        ),
    )
    assert text_of(events).startswith("上海乐高乐园度假区")
    assert events[-1] == Usage(12, 118, 130)


# ---- Perplexity Sonar ----------------------------------------------------------------------------


async def test_perplexity_sources_become_citations_at_their_markers(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("perplexity/sonar.json")))
    provider = await make("perplexity")
    result = await provider.complete(chat("What is the capital of France?", web_search=LONDON), SONAR)

    assert upstream.last.body["web_search_options"] == {
        "search_context_size": "low",
        "user_location": {"country": "GB", "city": "London"},  # flat, and no time zone
    }
    (choice,) = result.choices
    text = choice.content or ""
    marked = [(c.url, text[c.start_index : c.end_index]) for c in choice.annotations if c.end_index > c.start_index]
    assert marked == [
        ("https://en.wikipedia.org/wiki/Paris", "[1]"),
        ("https://www.britannica.com/place/Paris", "[2]"),
        ("https://www.britannica.com/place/Paris", "[2]"),
    ]
    assert choice.annotations[0].title == "Paris - Wikipedia"
    unmarked = choice.annotations[-1]  # a source the text never marks: at its end, over no characters
    assert (unmarked.url, unmarked.start_index, unmarked.end_index) == (
        "https://parisjetaime.com/eng/",
        len(text),
        len(text),
    )
    assert result.usage == Usage(9, 33, 42)


async def test_perplexity_stream_cites_on_the_finishing_delta(upstream: Emulator, make: Make) -> None:
    upstream.queue(sse_reply(fixture("perplexity/stream_sonar.sse")))
    provider = await make("perplexity")
    events = await events_of(provider, chat("What is the capital of France?", stream=True), SONAR)

    text = text_of(events)
    assert text == fixture_json("perplexity/sonar.json")["choices"][0]["message"]["content"]
    (finish,) = [d for d in deltas(events) if d.finish_reason]
    assert [text[c.start_index : c.end_index] for c in finish.annotations] == ["[1]", "[2]", "[2]", ""]
    assert [d for d in deltas(events) if d.annotations] == [finish]
    assert events[-1] == Usage(9, 33, 42)


# ---- Kimi's $web_search round trip ---------------------------------------------------------------


async def test_kimi_round_trip_runs_in_the_gateway(upstream: Emulator, make: Make) -> None:
    first = fixture_json("moonshot/search_tool_call.json")
    upstream.queue(json_reply(first), json_reply(fixture_json("moonshot/search_answer.json")))
    provider = await make("moonshot")
    system = Message("system", (TextPart("You are Kimi."),))
    result = await provider.complete(chat(system, "Please search for AGI.", web_search=WebSearch()), KIMI)

    asked, answered = upstream.requests
    builtin = {"type": "builtin_function", "function": {"name": "$web_search"}}
    assert asked.body["tools"] == [builtin]
    assert "thinking" not in asked.body
    assert answered.body["tools"] == [builtin]  # declared in every request, as Kimi's docs ask
    sent_back = answered.body["messages"][2:]
    assert sent_back[0] == first["choices"][0]["message"]  # the assistant's call, as received
    assert sent_back[1] == {
        "role": "tool",
        "tool_call_id": "$web_search:0",
        "name": "$web_search",
        "content": first["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],  # unchanged
    }
    (choice,) = result.choices
    assert (choice.finish_reason, choice.tool_calls) == ("stop", ())
    assert choice.content is not None
    assert choice.content.startswith("AGI stands for Artificial General Intelligence")
    assert result.usage == Usage(88 + 3557, 22 + 74, 110 + 3631)


async def test_kimi_thinking_models_search_with_thinking_off(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("moonshot/search_answer.json")))
    provider = await make("moonshot")
    await provider.complete(chat("Please search for AGI.", web_search=WebSearch()), KIMI_THINKING)
    assert upstream.last.body["thinking"] == {"type": "disabled"}


async def test_kimi_search_beside_another_function_goes_to_the_client(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("moonshot/search_and_function.json")))
    provider = await make("moonshot")
    weather = FunctionTool("get_weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}})
    result = await provider.complete(chat("Weather and news?", tools=(weather,), web_search=WebSearch()), KIMI)

    assert len(upstream.requests) == 1
    assert [t["type"] for t in upstream.last.body["tools"]] == ["function", "builtin_function"]
    (choice,) = result.choices
    assert choice.finish_reason == "tool_calls"
    assert [c.name for c in choice.tool_calls] == ["$web_search", "get_weather"]


async def test_kimi_client_loop_history_goes_back_as_builtin_calls(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("moonshot/search_answer.json")))
    provider = await make("moonshot")
    call = ToolCall("$web_search:0", "$web_search", '{"search_result": {"search_id": "x"}}')
    history = (
        Message("user", (TextPart("Weather and news?"),)),
        Message("assistant", tool_calls=(call,)),
        Message("tool", (TextPart(call.arguments),), tool_call_id=call.id),
    )
    await provider.complete(chat(*history, web_search=WebSearch()), KIMI)
    assert upstream.last.body["messages"][1]["tool_calls"][0]["type"] == "builtin_function"


async def test_kimi_stops_echoing_after_max_searches(upstream: Emulator, make: Make) -> None:
    upstream.queue(*(json_reply(fixture_json("moonshot/search_tool_call.json")) for _ in range(MAX_SEARCHES + 1)))
    provider = await make("moonshot")
    result = await provider.complete(chat("Search forever", web_search=WebSearch()), KIMI)
    assert len(upstream.requests) == MAX_SEARCHES + 1
    assert result.choices[0].finish_reason == "tool_calls"  # the client may go on with Kimi's loop
    assert result.usage == Usage(88 * 3, 22 * 3, 110 * 3)


async def test_kimi_stream_round_trip_shows_one_answer(upstream: Emulator, make: Make) -> None:
    upstream.queue(
        sse_reply(fixture("moonshot/stream_search_tool_call.sse")),
        sse_reply(fixture("moonshot/stream_search_answer.sse")),
    )
    provider = await make("moonshot")
    events = await events_of(provider, chat("Please search for AGI.", web_search=WebSearch(), stream=True), KIMI)

    assert [e for e in events if isinstance(e, StreamStart)] == [StreamStart("kimi-k2-0905-preview")]
    assert not any(d.tool_calls for d in deltas(events))
    assert [d.finish_reason for d in deltas(events) if d.finish_reason] == ["stop"]
    assert text_of(events) == fixture_json("moonshot/search_answer.json")["choices"][0]["message"]["content"]
    assert events[-1] == Usage(88 + 3557, 22 + 74, 110 + 3631)  # Moonshot's usage rides in the choice
    search = fixture_json("moonshot/search_tool_call.json")["choices"][0]["message"]["tool_calls"][0]["function"]
    assert upstream.last.body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "$web_search:0", "type": "builtin_function", "function": search}],
        },
        {"role": "tool", "tool_call_id": "$web_search:0", "name": "$web_search", "content": search["arguments"]},
    ]


async def test_kimi_stream_with_another_function_passes_every_call(upstream: Emulator, make: Make) -> None:
    recorded = [e for e in fixture("moonshot/stream_search_tool_call.sse").split(b"\n\n") if e.strip()]
    opening = orjson.loads(recorded[1].removeprefix(b"data: "))  # the chunk that opens the search call
    call = {
        "index": 1,
        "id": "get_weather:1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    weather = opening | {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]}
    recorded.insert(-2, b"data: " + orjson.dumps(weather))  # before the finish chunk
    upstream.queue(sse_reply(b"\n\n".join(recorded) + b"\n\n"))
    provider = await make("moonshot")
    events = await events_of(provider, chat("Weather and news?", web_search=WebSearch(), stream=True), KIMI)

    assert len(upstream.requests) == 1
    names = [c.name for d in deltas(events) for c in d.tool_calls if c.name]
    assert names == ["$web_search", "get_weather"]
    assert [d.finish_reason for d in deltas(events) if d.finish_reason] == ["tool_calls"]


# ---- providers that cannot search ----------------------------------------------------------------


async def test_an_upstream_without_search_refuses_it(make: Make) -> None:
    provider = await make("deepseek")
    with pytest.raises(UnsupportedParameter, match=r"\$web_search"):
        provider.check(chat("news?", web_search=WebSearch()), model_spec("deepseek", "deepseek-chat"))
