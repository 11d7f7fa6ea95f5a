"""The relay of OpenAI-compatible streams (``providers/openai_compat/relay.py``): which events pass
on as received, which are decoded, and what the OpenAI chat renderer makes of the relayed ones.
``test_openai_relay_differential.py`` checks that a client reads the same either way."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.providers.emulators import Emulator, chat, fixture, model_spec, provider_config, sse_reply
from unigate.api.openai.chat.render import ChunkRenderer
from unigate.core.results import ChoiceDelta, MoreBuffered, Passthrough, StreamEvent, StreamStart, Usage
from unigate.errors import UpstreamError
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_compat.relay import ChunkRelay, RelayedChunks, envelope_of
from unigate.providers.sse import SseDecoder, SseEvent

STREAMS = [
    "openai/stream_gpt4o.sse",
    "openai/stream_qwen3_reasoning.sse",
    "openai/stream_tool_calls.sse",
    "openai/stream_anthropic_via_openai.sse",
]
GPT4O = [e + b"\n\n" for e in fixture("openai/stream_gpt4o.sse").split(b"\n\n") if e]
FIRST, TEXT = GPT4O[0], GPT4O[5]  # the role event, then one that carries " AI"


def payloads(items: list[RelayedChunks | SseEvent]) -> list[str]:
    """The ``data`` of every event, relayed or decoded, in order."""
    out: list[str] = []
    for item in items:
        if isinstance(item, RelayedChunks):
            events = item.data.split(b"\n\n")
            assert events.pop() == b""
            events = [e for e in events if not e.startswith(b":")]  # comments pass on; readers skip them
            assert len(events) == item.count
            out += [e.removeprefix(b"data: ").decode() for e in events]
        else:
            out.append(item.data)
    return out


def through_relay(pieces: list[bytes]) -> list[RelayedChunks | SseEvent]:
    relay = ChunkRelay()
    items: list[RelayedChunks | SseEvent] = []
    for piece in pieces:
        items += relay.feed(piece)
    return items + list(relay.close())


def relayed(pieces: list[bytes]) -> list[RelayedChunks]:
    return [i for i in through_relay(pieces) if isinstance(i, RelayedChunks)]


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
def test_relayed_events_carry_only_text_in_the_streams_envelope(name: str) -> None:
    text = fixture(name)
    first = orjson.loads(reference(text)[0])
    for item in relayed([text]):
        assert item.envelope.prefix.startswith(b'data: {"id":' + orjson.dumps(first["id"]))
        texts = []
        for event in payloads([item]):
            chunk = orjson.loads(event)
            (choice,) = chunk["choices"]
            assert choice == {
                "index": 0,
                "delta": {"content": choice["delta"]["content"]},
                "logprobs": None,
                "finish_reason": None,
            }
            assert chunk.get("usage") is None
            assert (chunk["id"], chunk["created"], chunk["model"]) == (first["id"], first["created"], first["model"])
            texts.append(choice["delta"]["content"])
        assert [d.content for d in item.deltas()] == texts
        assert item.text_bytes() == len("".join(texts).encode())


def test_what_is_relayed_from_an_openai_stream() -> None:
    text = fixture("openai/stream_gpt4o.sse")
    items = through_relay([text])
    # The first event is decoded (it gives the envelope), then one run up to the finish, decoded
    # with the usage event after it (this recording has no [DONE]).
    assert [type(i) for i in items] == [SseEvent, RelayedChunks, SseEvent, SseEvent]
    assert sum(i.count for i in items if isinstance(i, RelayedChunks)) == len(reference(text)) - 3
    finish, usage = (orjson.loads(i.data) for i in items[2:] if isinstance(i, SseEvent))
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert usage["usage"]["total_tokens"] == 118


def test_claude_behind_openai_changes_ids_so_nothing_is_relayed() -> None:
    assert relayed([fixture("openai/stream_anthropic_via_openai.sse")]) == []


def test_crlf_and_spaced_json_are_decoded_comments_relayed() -> None:
    text = fixture("openai/stream_gpt4o.sse")
    events = [e for e in text.split(b"\n\n") if e]
    crlf = text.replace(b"\n", b"\r\n")
    assert relayed([crlf]) == []
    assert payloads(through_relay([crlf[:100], crlf[100:]])) == reference(text)

    # A read holding a spaced-out event relays what precedes it and decodes the rest; the next
    # read relays again.
    spaced = b"data: " + orjson.dumps(orjson.loads(events[5][6:]), option=orjson.OPT_INDENT_2).replace(b"\n", b"")
    first = b"\n\n".join([*events[:5], spaced, *events[6:8]]) + b"\n\n"
    rest = b"\n\n".join(events[8:]) + b"\n\n"
    items = through_relay([first, rest])
    assert payloads(items) == reference(first + rest)
    runs = [i for i in items if isinstance(i, RelayedChunks)]
    assert [r.count for r in runs] == [4, len(events) - 8 - 2]  # up to the finish and usage events
    assert runs[1].data.startswith(events[8])

    # A keep-alive comment goes on with the events around it; a "comment" with a data line is an
    # event, decoded.
    commented = b"\n\n".join([*events[:5], b": keep-alive", *events[5:]]) + b"\n\n"
    items = through_relay([commented])
    assert payloads(items) == reference(commented)
    assert b"\n\n: keep-alive\n\n" in b"".join(i.data for i in items if isinstance(i, RelayedChunks))
    hidden = b"\n\n".join([*events[:5], b": hm\n" + events[5], *events[6:]]) + b"\n\n"
    items = through_relay([hidden])
    assert payloads(items) == reference(hidden)
    assert next(r.count for r in relayed([hidden])) == 4


def test_a_stream_without_ids_is_decoded_whole() -> None:
    text = fixture("openai/stream_gpt4o.sse")
    anonymous = b"\n\n".join(
        b"data: " + orjson.dumps({k: v for k, v in orjson.loads(e[6:]).items() if k != "id"})
        if e.startswith(b"data: {")
        else e
        for e in text.split(b"\n\n")
    )
    assert relayed([anonymous]) == []
    assert payloads(through_relay([anonymous])) == reference(anonymous)


def test_the_envelope_of_the_first_event_must_be_one_the_relay_can_rewrite() -> None:
    assert envelope_of(FIRST) is not None

    def first_with(**members: object) -> bytes:
        chunk = orjson.loads(FIRST[6:])
        chunk = {**{k: v for k, v in chunk.items() if k != "choices"}, **members, "choices": chunk["choices"]}
        return b"data: " + orjson.dumps({k: v for k, v in chunk.items() if v != "-"}) + b"\n\n"

    assert envelope_of(first_with()) is not None
    odd: list[dict[str, Any]] = [
        {"id": "-"},  # no id: the renderer's could not replace it
        {"created": "1773905945"},
        {"created": True},
        {"model": ""},  # the stream reports the requested model instead
        {"object": "chat.completion"},
        {"usage": {"prompt_tokens": 1}},
        {"x_groq": {"id": "req_1"}},  # a member the relay does not know
    ]
    for members in odd:
        assert envelope_of(first_with(**members)) is None, members
    assert envelope_of(FIRST.replace(b'"id":"chatcmpl-', b'"id":"chatcmpl\\/')) is None  # not as orjson writes it
    assert envelope_of(b"event: chunk\n" + FIRST) is None
    choices_first = orjson.loads(FIRST[6:])
    assert (
        envelope_of(b"data: " + orjson.dumps({"choices": choices_first.pop("choices"), **choices_first}) + b"\n\n")
        is None
    )


@pytest.mark.parametrize(
    ("text", "relays"),
    [
        (b'"content":" AI"', True),
        (b'"content":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac"', True),
        (b'"content":"caf\xc3\xa9"', True),
        (b'"content":""', False),  # decodes to nothing
        (b'"content":"\\ud83d\\ude00"', False),  # surrogate escapes: decoded
        (b'"content":"a\\x"', False),  # not JSON
        (b'"content":"a\tb"', False),  # a raw control character: not JSON
        (b'"content":"a"b"', False),
        (b'"content":" AI","refusal":null', False),
        (b'"content":null', False),
        (b'"role":"assistant","content":" AI"', False),
    ],
)
def test_only_one_choice_shape_is_relayed(text: bytes, relays: bool) -> None:
    event = TEXT.replace(b'"content":" AI"', text)
    assert event != TEXT or relays
    items = through_relay([FIRST, event + TEXT])
    kinds = [type(i) for i in items]
    assert kinds == ([SseEvent, RelayedChunks] if relays else [SseEvent, SseEvent, SseEvent])


@pytest.mark.parametrize(
    "tail",
    [
        b',"usage":{"prompt_tokens":1},"obfuscation":"x"}',
        b',"usage":null,"obfuscation":"x","error":{"message":"no"}}',
        b',"usage":null,"obfuscation":"x","choices":[]}',
        b',"usage":null,"x_extra":1}',
        b',"usage":null,"obfuscation":"a\\"b"}',
    ],
)
def test_members_after_the_choices_are_checked_too(tail: bytes) -> None:
    event = TEXT[: TEXT.index(b',"usage":null')] + tail + b"\n\n"
    assert [type(i) for i in through_relay([FIRST, event])] == [SseEvent, SseEvent]


def test_text_that_is_not_utf8_is_decoded() -> None:
    event = TEXT.replace(b'"content":" AI"', b'"content":"caf\xe9"')
    items = through_relay([FIRST, event])
    assert [type(i) for i in items] == [SseEvent, SseEvent]
    assert orjson.loads(items[1].data)["choices"][0]["delta"]["content"] == "caf\ufffd"


def test_nothing_is_relayed_after_a_finish() -> None:
    relay = ChunkRelay()
    assert isinstance(relay.feed(FIRST + TEXT)[1], RelayedChunks)
    relay.decode_all()
    assert [type(i) for i in relay.feed(TEXT)] == [SseEvent]


# ---- the renderer ---------------------------------------------------------------------------------


def test_the_renderer_rewrites_the_envelope_and_opens_the_choice_once() -> None:
    (chunks,) = relayed([FIRST, TEXT + GPT4O[6]])
    renderer = ChunkRenderer(model="gpt-4o-2024-08-06", include_usage=True)
    out = renderer.relayed(chunks)
    assert out is not None
    frames = [orjson.loads(f[6:]) for f in out.split(b"\n\n") if f]
    assert [(f["id"], f["created"]) for f in frames] == [(renderer.id, renderer.created)] * 2
    assert [f["choices"][0]["delta"] for f in frames] == [{"role": "assistant", "content": " AI"}, {"content": ","}]
    assert frames[0]["service_tier"] == "default"  # the upstream's own members pass on
    again = renderer.relayed(chunks)
    assert again is not None
    assert b'"role"' not in again
    assert renderer.relayed(_Other()) is None  # not chunks of this API: its deltas are rendered


class _Other(Passthrough):
    count = 1

    def deltas(self) -> tuple[ChoiceDelta, ...]:
        return (ChoiceDelta(0, content="x"),)


# ---- through the adapter ---------------------------------------------------------------------------


@pytest.fixture
async def provider(upstream: Emulator) -> AsyncIterator[OpenAICompatProvider]:
    made = OpenAICompatProvider(provider_config("openai", upstream.url + "/v1"))
    await made.start()
    yield made
    await made.close()


async def test_the_adapter_relays_what_it_can_and_marks_its_reads(
    upstream: Emulator, provider: OpenAICompatProvider
) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_gpt4o.sse"), piece=4096))
    events = [e async for e in provider.stream(chat("Hi"), model_spec("openai", "gpt-4o"))]
    assert next(e for e in events if not isinstance(e, MoreBuffered)) == StreamStart("gpt-4o-2024-08-06")
    assert isinstance(events[-1], Usage)
    chunks = [e for e in events if isinstance(e, RelayedChunks)]
    assert sum(c.count for c in chunks) > 90
    assert any(isinstance(e, MoreBuffered) for e in events)


async def test_an_error_after_relayed_events_raises(upstream: Emulator, provider: OpenAICompatProvider) -> None:
    head = b"".join(GPT4O[:6])
    upstream.queue(sse_reply(head + b'data: {"error": {"message": "Provider returned error", "code": 502}}\n\n'))
    got: list[StreamEvent] = []

    async def read() -> None:
        async for event in provider.stream(chat("Hi"), model_spec("openai", "gpt-4o")):
            got.append(event)

    with pytest.raises(UpstreamError, match="Provider returned error"):
        await read()
    assert any(isinstance(e, RelayedChunks) for e in got)


@pytest.mark.parametrize("piece", [None, 11])
async def test_a_relayed_stream_cut_before_its_finish_raises(
    upstream: Emulator, provider: OpenAICompatProvider, piece: int | None
) -> None:
    upstream.queue(sse_reply(b"".join(GPT4O[:30]), piece=piece))
    with pytest.raises(UpstreamError, match="ended before the answer finished"):
        async for _ in provider.stream(chat("Hi"), model_spec("openai", "gpt-4o")):
            pass


def test_tool_call_arguments_sent_as_an_object_are_decoded() -> None:
    text = fixture("openai/stream_tool_calls.sse")
    events = [e for e in text.split(b"\n\n") if e]
    odd = orjson.loads(events[3][6:])
    odd["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] = {"location": "Paris"}
    mixed = b"\n\n".join([*events[:3], b"data: " + orjson.dumps(odd), *events[4:]]) + b"\n\n"
    assert payloads(through_relay([mixed])) == reference(mixed)
    assert relayed([mixed]) == []
