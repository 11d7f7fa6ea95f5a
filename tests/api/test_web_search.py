"""Web search through the whole gateway, as the seeds show it (the service's docs, section "Web
search": the ``$web_search`` tool loop with ``gpt-4o-mini-search-preview``), driven by plain HTTP
and the official ``openai`` and ``anthropic`` SDKs in front of emulated OpenAI and Moonshot upstreams:
the request each upstream gets, ``url_citation`` annotations on chat, Responses and Messages, and
the 400 that names the tool for a model that cannot search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.providers.emulators import (
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
from unigate.core.provider import Provider
from unigate.providers.openai_compat import OpenAICompatProvider

SEARCH_PARAMS = frozenset({"max_tokens", "max_completion_tokens", "stream_options", "response_format"})
GPT_SEARCH = model_spec(
    "openai",
    "gpt-4o-mini-search-preview",
    id="gpt-4o-mini-search-preview",
    params=SEARCH_PARAMS | {"temperature", "web_search_options"},
)
KIMI = model_spec(
    "moonshot",
    "kimi-k2-0905-preview",
    id="moonshot/kimi-k2-0905-preview",
    params=SEARCH_PARAMS | {"temperature", "tools", "tool_choice", "web_search_options"},
)
GPT = model_spec("openai", "gpt-4o", id="openai/gpt-4o")
BUILTIN: Any = {"type": "builtin_function", "function": {"name": "$web_search"}}
SEARCH = fixture_json("openai/search_preview.json")
CITED = [a["url_citation"] for a in SEARCH["choices"][0]["message"]["annotations"]]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers: dict[str, Provider] = {
        name: OpenAICompatProvider(provider_config(name, upstream.url + "/v1")) for name in ("openai", "moonshot")
    }
    data_dir: Path = tmp_path_factory.mktemp("search")
    running = Server(fake_settings(data_dir), models=[GPT_SEARCH, KIMI, GPT], providers=providers).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=100_000_000)[0]


@pytest.fixture
def client(server: Server, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30) as client:
        yield client


def seeds_loop(server: Server, key: str, model: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The seeds' REST example (F15), as printed: loop while the answer asks for tool calls,
    echoing ``$web_search``'s arguments. Returns every choice it got and the last message."""
    choices = []
    messages: list[Any] = [
        {"role": "system", "content": "You are GPT with web search skills."},
        {"role": "user", "content": "Please search for AGI and tell me what it is in English."},
    ]
    finish_reason = None
    while finish_reason is None or finish_reason == "tool_calls":
        payload = {"model": model, "messages": messages, "temperature": 0.6, "tools": [BUILTIN]}
        r = httpx2.post(
            f"{server.url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        r.raise_for_status()
        choice = r.json()["choices"][0]
        choices.append(choice)
        finish_reason = choice["finish_reason"]
        message = choice["message"]
        if finish_reason == "tool_calls":
            messages.append(message)
            for call in message["tool_calls"]:
                arguments = json.loads(call["function"]["arguments"])
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call["id"],
                        "name": "$web_search",
                        "content": json.dumps(arguments),
                    }
                )
    return choices, message


def test_the_seeds_example_gets_a_cited_answer_in_one_turn(upstream: Emulator, server: Server, key: str) -> None:
    upstream.queue(json_reply(SEARCH))
    choices, message = seeds_loop(server, key, "gpt-4o-mini-search-preview")

    assert len(choices) == 1
    assert choices[0]["finish_reason"] == "stop"
    assert upstream.last.body == {
        "model": "gpt-4o-mini-search-preview",
        "messages": [
            {"role": "system", "content": "You are GPT with web search skills."},
            {"role": "user", "content": "Please search for AGI and tell me what it is in English."},
        ],
        "web_search_options": {},  # the tool asks for search; OpenAI's search models take no temperature
    }
    assert message["content"] == SEARCH["choices"][0]["message"]["content"]
    assert message["annotations"] == [{"type": "url_citation", "url_citation": c} for c in CITED]


def test_the_seeds_example_on_kimi_runs_the_round_trip_in_the_gateway(
    upstream: Emulator, server: Server, key: str
) -> None:
    upstream.queue(
        json_reply(fixture_json("moonshot/search_tool_call.json")),
        json_reply(fixture_json("moonshot/search_answer.json")),
    )
    before = len(upstream.requests)
    choices, message = seeds_loop(server, key, "moonshot/kimi-k2-0905-preview")

    assert [c["finish_reason"] for c in choices] == ["stop"]  # one answer: the gateway echoed
    assert len(upstream.requests) == before + 2
    assert message["content"].startswith("AGI stands for Artificial General Intelligence")
    assert upstream.last.body["temperature"] == 0.6  # Kimi takes it


def test_the_sdk_variant_declares_a_function_named_web_search(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(json_reply(SEARCH))
    tool: Any = {
        "type": "function",
        "function": {"name": "$web_search", "parameters": {"type": "object", "properties": {}}},
    }
    r = client.chat.completions.create(
        model="gpt-4o-mini-search-preview",
        messages=[{"role": "user", "content": "Please search for AGI."}],
        temperature=0.6,
        tools=[tool],
        extra_body={"web_search_options": {"search_context_size": "high"}},
    )
    assert upstream.last.body["web_search_options"] == {"search_context_size": "high"}
    annotations = r.choices[0].message.annotations or []
    assert [a.url_citation.url for a in annotations] == [c["url"] for c in CITED]
    assert annotations[0].url_citation.start_index == CITED[0]["start_index"]


def test_a_streamed_search_sends_its_annotations(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_search_preview.sse")))
    stream = client.chat.completions.create(
        model="gpt-4o-mini-search-preview",
        messages=[{"role": "user", "content": "上海乐高乐园"}],
        stream=True,
        extra_body={"web_search_options": {}},
    )
    cited = [c for chunk in stream for c in chunk.choices if (c.delta.model_extra or {}).get("annotations")]
    assert len(cited) == 1
    assert cited[0].finish_reason == "stop"
    (annotation,) = (cited[0].delta.model_extra or {})["annotations"]
    assert annotation["url_citation"]["title"] == "上海乐高乐园"
    assert (annotation["url_citation"]["start_index"], annotation["url_citation"]["end_index"]) == (75, 199)


def test_responses_carry_the_citations(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(json_reply(SEARCH))
    r = client.responses.create(model="gpt-4o-mini-search-preview", input="Please search for AGI.")
    (part,) = r.model_dump()["output"][0]["content"]
    assert part["type"] == "output_text"
    assert [(a["type"], a["url"], a["start_index"]) for a in part["annotations"]] == [
        ("url_citation", c["url"], c["start_index"]) for c in CITED
    ]

    upstream.queue(sse_reply(fixture("openai/stream_search_preview.sse")))
    with client.responses.stream(model="gpt-4o-mini-search-preview", input="上海乐高乐园") as stream:
        added = [e.model_dump() for e in stream if e.type == "response.output_text.annotation.added"]
        final = stream.get_final_response().model_dump()
    assert [e["annotation"]["title"] for e in added] == ["上海乐高乐园"]
    (annotation,) = final["output"][0]["content"][0]["annotations"]
    assert (annotation["start_index"], annotation["end_index"]) == (75, 199)


def test_messages_carry_web_search_citations(upstream: Emulator, server: Server, key: str) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0)
    upstream.queue(json_reply(SEARCH))
    m = client.messages.create(
        model="gpt-4o-mini-search-preview", max_tokens=1024, messages=[{"role": "user", "content": "AGI?"}]
    )
    cited = [b for b in m.content if b.type == "text" and b.citations]
    assert "".join(b.text for b in m.content if b.type == "text") == SEARCH["choices"][0]["message"]["content"]
    citations = [(b.text, c.model_dump()) for b in cited for c in b.citations or ()]
    assert [c["url"] for _, c in citations] == [c["url"] for c in CITED]
    assert all(c["cited_text"] == text for text, c in citations)

    upstream.queue(sse_reply(fixture("openai/stream_search_preview.sse")))
    with client.messages.stream(
        model="gpt-4o-mini-search-preview", max_tokens=1024, messages=[{"role": "user", "content": "上海乐高乐园"}]
    ) as stream:
        final = stream.get_final_message()
    (block,) = final.content
    assert block.type == "text"
    assert block.citations is not None
    (citation,) = block.citations
    assert citation.type == "web_search_result_location"
    assert citation.title == "上海乐高乐园"
    assert citation.cited_text == block.text[75:199]


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"tools": [BUILTIN]}, "tools"), ({"web_search_options": {"search_context_size": "low"}}, "web_search_options")],
)
def test_a_model_without_search_answers_400_naming_the_tool(
    upstream: Emulator, server: Server, key: str, extra: dict[str, Any], param: str
) -> None:
    before = len(upstream.requests)
    payload = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "news?"}], **extra}
    r = httpx2.post(
        f"{server.url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert "$web_search" in error["message"]
    assert "web_search_options" in error["message"]
    assert (error["param"], error["code"]) == (param, "unsupported_parameter")
    assert len(upstream.requests) == before


def test_another_builtin_function_is_refused_by_name(server: Server, key: str) -> None:
    tool = {"type": "builtin_function", "function": {"name": "$code_runner"}}
    payload = {
        "model": "moonshot/kimi-k2-0905-preview",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [tool],
    }
    r = httpx2.post(
        f"{server.url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "tools[0].function.name"
    assert error["message"] == "Invalid value for 'tools[0].function.name': Input should be '$web_search'."
