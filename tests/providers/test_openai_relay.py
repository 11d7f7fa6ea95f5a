"""The relay of OpenAI-compatible streams (``providers/openai_relay.py``): plain events pass on as
received, the rest is decoded, and a client sees the same answer as through the canonical path."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from tests.providers.emulators import Emulator, chat, fixture, model_spec, provider_config, sse_reply
from unigate.api.openai.chat.render import ChunkRenderer
from unigate.core.chat import FunctionTool
from unigate.core.gateway import Charge
from unigate.core.results import ChoiceDelta, RelayedFrames, StreamEvent, StreamStart, Usage
from unigate.errors import UpstreamError
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_relay import ChunkRelay
from unigate.providers.sse import SseDecoder, SseEvent

STREAMS = [
    "openai/stream_gpt4o.sse",
    "openai/stream_qwen3_reasoning.sse",
    "openai/stream_tool_calls.sse",
    "openai/stream_anthropic_via_openai.sse",
]


def payloads(items: list[RelayedFrames | SseEvent]) -> list[str]:
    """The ``data`` of every event, relayed or decoded, in order."""
    out: list[str] = []
    for item in items:
        if isinstance(item, RelayedFrames):
            events = item.data.split(b"\n\n")
            assert events.pop() == b""
            events = [e for e in events if not e.startswith(b":")]  # comments pass on; readers skip them
            assert len(events) == item.count
            out += [e.removeprefix(b"data: ").decode() for e in events]
        else:
            out.append(item.data)
    return out


def through_relay(pieces: list[bytes]) -> list[RelayedFrames | SseEvent]:
    relay = ChunkRelay()
    items: list[RelayedFrames | SseEvent] = []
    for piece in pieces:
        items += relay.feed(piece)
    return items + list(relay.close())


def reference(text: bytes) -> list[str]:
    decoder = SseDecoder()
    return [e.data for e in [*decoder.feed(text), *decoder.close()]]


def random_pieces(text: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 40)))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("name", STREAMS)
def test_every_split_of_a_recorded_stream_keeps_every_event_in_order(name: str) -> None:
    text = fixture(name)
    expected = reference(text)
    rng = random.Random(name)
    splits = [[text], [e + b"\n\n" for e in text.split(b"\n\n") if e]]
    splits += [random_pieces(text, rng) for _ in range(200)]
    for pieces in splits:
        assert payloads(through_relay(pieces)) == expected


@pytest.mark.parametrize("name", STREAMS)
def test_relayed_events_never_finish_report_usage_or_fail(name: str) -> None:
    text = fixture(name)
    items = through_relay([text])
    first = orjson.loads(reference(text)[0])
    for item in items:
        if not isinstance(item, RelayedFrames):
            continue
        assert item.id_field == b'"id":' + orjson.dumps(first["id"])
        assert item.created_field == b'"created":%d' % first["created"]
        for event in payloads([item]):
            chunk = orjson.loads(event)
            assert [c["finish_reason"] for c in chunk["choices"]] == [None]
            assert chunk.get("usage") is None
            assert "error" not in chunk
            assert (chunk["id"], chunk["created"]) == (first["id"], first["created"])


def test_what_is_relayed_from_an_openai_stream() -> None:
    text = fixture("openai/stream_gpt4o.sse")
    items = through_relay([text])
    relayed = [i for i in items if isinstance(i, RelayedFrames)]
    # The first event is decoded (it names the id), then one run up to the finish, decoded with the
    # usage event after it (this recording has no [DONE]).
    assert [type(i) for i in items] == [SseEvent, RelayedFrames, SseEvent, SseEvent]
    assert relayed[0].count == len(reference(text)) - 3
    finish, usage = (orjson.loads(i.data) for i in items[2:] if isinstance(i, SseEvent))
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert usage["usage"]["total_tokens"] == 118


def test_claude_behind_openai_changes_ids_so_nothing_is_relayed() -> None:
    items = through_relay([fixture("openai/stream_anthropic_via_openai.sse")])
    assert not any(isinstance(i, RelayedFrames) for i in items)


def test_crlf_and_spaced_json_are_decoded_comments_relayed() -> None:
    text = fixture("openai/stream_gpt4o.sse")
    events = [e for e in text.split(b"\n\n") if e]
    crlf = text.replace(b"\n", b"\r\n")
    assert not any(isinstance(i, RelayedFrames) for i in through_relay([crlf]))
    assert payloads(through_relay([crlf[:100], crlf[100:]])) == reference(text)

    # A read holding a spaced-out event is decoded whole; the next read relays again.
    spaced = b"data: " + orjson.dumps(orjson.loads(events[5][6:]), option=orjson.OPT_INDENT_2).replace(b"\n", b"")
    first = b"\n\n".join([*events[:5], spaced]) + b"\n\n"
    rest = b"\n\n".join(events[6:]) + b"\n\n"
    items = through_relay([first, rest])
    assert payloads(items) == reference(first + rest)
    relayed = [i for i in items if isinstance(i, RelayedFrames)]
    assert len(relayed) == 1
    assert relayed[0].data.startswith(events[6])
    assert relayed[0].count == len(events) - 6 - 2  # up to the finish and usage events

    # A keep-alive comment goes on with the events around it.
    commented = b"\n\n".join([*events[:5], b": keep-alive", *events[5:]]) + b"\n\n"
    items = through_relay([commented])
    assert payloads(items) == reference(commented)
    assert b"\n\n: keep-alive\n\n" in b"".join(i.data for i in items if isinstance(i, RelayedFrames))


def test_a_stream_without_ids_is_decoded_whole() -> None:
    text = fixture("openai/stream_gpt4o.sse")
    anonymous = b"\n\n".join(
        b"data: " + orjson.dumps({k: v for k, v in orjson.loads(e[6:]).items() if k != "id"})
        if e.startswith(b"data: {")
        else e
        for e in text.split(b"\n\n")
    )
    items = through_relay([anonymous])
    assert not any(isinstance(i, RelayedFrames) for i in items)
    assert payloads(items) == reference(anonymous)


# ---- through the adapter and the renderer: what a client reads ------------------------------------

Make = Callable[..., Awaitable[OpenAICompatProvider]]


@pytest.fixture
async def provider(upstream: Emulator) -> AsyncIterator[OpenAICompatProvider]:
    made = OpenAICompatProvider(provider_config("openai", upstream.url + "/v1"))
    await made.start()
    yield made
    await made.close()


def render(events: list[StreamEvent], *, include_usage: bool) -> tuple[ChunkRenderer, list[dict[str, Any]]]:
    """What ``send_stream`` writes for ``events``, as the chunks a client parses."""
    model = next(e.model for e in events if isinstance(e, StreamStart))
    renderer = ChunkRenderer(model=model, include_usage=include_usage)
    out = b""
    usage = None
    for event in events:
        if isinstance(event, RelayedFrames):
            out += renderer.relayed(event)
        elif isinstance(event, ChoiceDelta):
            out += renderer.delta(event)
        elif isinstance(event, Usage):
            usage = event
    out += renderer.end(usage, Charge(7))
    frames = out.split(b"\n\n")
    assert frames.pop() == b""
    assert frames.pop() == b"data: [DONE]"
    return renderer, [orjson.loads(f.removeprefix(b"data: ")) for f in frames]


def client_view(renderer: ChunkRenderer, chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What an OpenAI client makes of a stream, after checking the frame invariants."""
    assert {(c["id"], c["created"], c["object"]) for c in chunks} == {
        (renderer.id, renderer.created, "chat.completion.chunk")
    }
    choices = [ch for c in chunks for ch in c["choices"]]
    assert choices[0]["delta"]["role"] == "assistant"
    assert all("role" not in ch["delta"] for ch in choices[1:])
    calls: dict[int, str] = {}
    for ch in choices:
        for call in ch["delta"].get("tool_calls") or ():
            calls[call["index"]] = calls.get(call["index"], "") + call["function"]["arguments"]
    return {
        "model": {c["model"] for c in chunks},
        "content": "".join(ch["delta"].get("content") or "" for ch in choices),
        "reasoning": "".join(ch["delta"].get("reasoning_content") or "" for ch in choices),
        "calls": calls,
        "finish": [ch["finish_reason"] for ch in choices if ch["finish_reason"]],
        "usage": [c["usage"] for c in chunks if c.get("usage")],
        "meta": [c["meta"] for c in chunks if "meta" in c],
        "last_has_meta": "meta" in chunks[-1],
    }


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("piece", [None, 7, 300])
@pytest.mark.parametrize("include_usage", [True, False])
async def test_a_client_reads_the_same_answer_relayed_or_decoded(
    upstream: Emulator, provider: OpenAICompatProvider, name: str, piece: int | None, include_usage: bool
) -> None:
    tools = (FunctionTool("get_weather", parameters={"type": "object"}),)
    views = []
    relayed = 0
    for relay in (False, True):
        upstream.queue(sse_reply(fixture(name), piece=piece))
        request = chat("Hi", tools=tools, stream=True, include_usage=include_usage, relay_chunks=relay)
        events = [e async for e in provider.stream(request, model_spec("openai", "gpt-4o"))]
        relayed += sum(e.count for e in events if isinstance(e, RelayedFrames))
        assert isinstance(events[-1], Usage)
        views.append(client_view(*render(events, include_usage=include_usage)))
    assert views[0] == views[1]
    assert views[1]["last_has_meta"]
    if "anthropic" not in name:
        assert relayed > 0


async def test_openrouter_reasoning_is_decoded_into_reasoning_content(
    upstream: Emulator, provider: OpenAICompatProvider
) -> None:
    recorded = fixture("openai/stream_qwen3_reasoning.sse").replace(b'"reasoning_content":', b'"reasoning":')
    views = []
    for relay in (False, True):
        upstream.queue(sse_reply(recorded))
        request = chat("Hi", stream=True, relay_chunks=relay)
        events = [e async for e in provider.stream(request, model_spec("openai", "qwen3"))]
        views.append(client_view(*render(events, include_usage=True)))
    assert views[0] == views[1]
    assert views[1]["reasoning"].startswith('Okay, the user said "Hello".')
    assert not any(isinstance(i, RelayedFrames) and b'"reasoning":"' in i.data for i in through_relay([recorded]))


def test_tool_call_arguments_sent_as_an_object_are_decoded() -> None:
    text = fixture("openai/stream_tool_calls.sse")
    events = [e for e in text.split(b"\n\n") if e]
    odd = orjson.loads(events[3][6:])
    odd["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] = {"location": "Paris"}
    mixed = b"\n\n".join([*events[:3], b"data: " + orjson.dumps(odd), *events[4:]]) + b"\n\n"
    items = through_relay([mixed])
    assert payloads(items) == reference(mixed)
    relayed = b"".join(i.data for i in items if isinstance(i, RelayedFrames))
    assert b'"arguments":{' not in relayed


async def test_an_error_after_relayed_events_raises(upstream: Emulator, provider: OpenAICompatProvider) -> None:
    head = b"".join(e + b"\n\n" for e in fixture("openai/stream_gpt4o.sse").split(b"\n\n")[:6])
    upstream.queue(sse_reply(head + b'data: {"error": {"message": "Provider returned error", "code": 502}}\n\n'))
    got: list[StreamEvent] = []

    async def read() -> None:
        async for event in provider.stream(chat("Hi", relay_chunks=True), model_spec("openai", "gpt-4o")):
            got.append(event)

    with pytest.raises(UpstreamError, match="Provider returned error"):
        await read()
    assert any(isinstance(e, RelayedFrames) for e in got)


@pytest.mark.parametrize("piece", [None, 11])
async def test_a_relayed_stream_cut_before_its_finish_raises(
    upstream: Emulator, provider: OpenAICompatProvider, piece: int | None
) -> None:
    head = b"".join(e + b"\n\n" for e in fixture("openai/stream_gpt4o.sse").split(b"\n\n")[:30])
    upstream.queue(sse_reply(head, piece=piece))
    with pytest.raises(UpstreamError, match="ended before the answer finished"):
        async for _ in provider.stream(chat("Hi", relay_chunks=True), model_spec("openai", "gpt-4o")):
            pass


async def test_several_choices_are_decoded(upstream: Emulator, provider: OpenAICompatProvider) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_gpt4o.sse")))
    events = [e async for e in provider.stream(chat("Hi", n=2, relay_chunks=True), model_spec("openai", "gpt-4o"))]
    assert not any(isinstance(e, RelayedFrames) for e in events)
