"""The relay against the canonical path, on every recorded OpenAI-compatible stream.

Each stream of ``fixtures/openai/*.sse``, in variants (the quirks upstreams are known for, the
ways ``sse_reply`` cuts a body into network reads, streams broken off), is read twice by the
adapter's ``stream_events``: relayed (what the relay can check goes to the client as received)
and decoded (every event decoded, then rendered). Both are rendered by the OpenAI chat renderer
through ``StreamOutput``, the code ``send_stream`` writes with, and a client must read the same:

* the same server-sent events in the same order, compared parsed as JSON, not as bytes: the relay
  passes on the upstream's ``service_tier``, ``system_fingerprint`` and ``obfuscation`` (and its
  ``"usage": null``), members the canonical path has no field for (``PASSED_ON``), which are
  left out of the comparison; and a relayed text keeps the upstream's JSON escapes (``\\u00e9``
  where the renderer writes ``é``), which only a parse makes equal;
* every chunk with this stream's own ``id`` and ``created``;
* the same usage and charge, the same count of billed deltas, the same error if the stream fails;
* the same canonical deltas (a ``Passthrough``'s ``deltas``), which is what every renderer that
  does not relay (Anthropic Messages, Responses, legacy completions) renders.

``test_a_relay_that_trusts_a_shape_it_does_not_check_fails_here`` shows the check is strong
enough: with the relay's shape check loosened, crafted events that an allowlist-style relay
would let through make the comparison fail.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import orjson
import pytest

from tests.providers.emulators import FIXTURES, chat, fixture, model_spec, sse_reply
from unigate.api.openai.chat.render import ChunkRenderer
from unigate.api.streaming import StreamOutput
from unigate.core.chat import FunctionTool
from unigate.core.gateway import Charge
from unigate.core.results import ChoiceDelta, MoreBuffered, Passthrough, StreamStart, Usage
from unigate.errors import GatewayError, UpstreamError
from unigate.providers.openai_compat import relay as relay_module
from unigate.providers.openai_compat.relay import PASSED_ON
from unigate.providers.openai_compat.stream import stream_events
from unigate.providers.sse import SseDecoder

RECORDED = sorted(p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "openai").glob("*.sse"))
SPEC = model_spec("openai", "gpt-4o")
REQUEST = chat("Hi", stream=True, tools=(FunctionTool("get_weather", parameters={"type": "object"}),))


# ---- the two paths, as a client reads them -------------------------------------------------------


class Broken(UpstreamError):
    """The connection to the upstream broke off (``sse_reply``'s ``truncate`` and ``reset``)."""


async def body(pieces: Sequence[bytes], *, broken: bool) -> AsyncGenerator[bytes, None]:
    for piece in pieces:
        yield piece
    if broken:
        raise Broken("The openai provider's answer broke off.")


def error_event(data: bytes) -> GatewayError:
    return UpstreamError(f"The upstream sent an error: {orjson.loads(data)['error']}")


async def client_view(pieces: Sequence[bytes], *, relay: bool, include_usage: bool, broken: bool = False) -> Any:
    """What a client reads through one path (the events, parsed), what is billed, how it failed,
    and how many events were relayed."""
    chunks = body(pieces, broken=broken)
    events = stream_events(chunks, REQUEST, SPEC, provider="openai", error_event=error_event, relay=relay)
    output: StreamOutput[ChunkRenderer] | None = None
    billed, relayed, usage, failure = 0, 0, None, None
    deltas: list[ChoiceDelta] = []
    try:
        async for event in events:
            if isinstance(event, StreamStart):  # the first event, as send_stream makes its renderer
                renderer = ChunkRenderer(model=event.model, include_usage=include_usage)
                output = StreamOutput(renderer, relay=ChunkRenderer.relayed if relay else None)
                continue
            if isinstance(event, MoreBuffered):
                continue
            elif isinstance(event, ChoiceDelta):
                billed += bool(event.content or event.tool_calls or event.reasoning)  # as the gateway counts
                deltas.append(event)
            elif isinstance(event, Passthrough):
                billed += event.count
                relayed += event.count
                deltas += event.deltas()
            elif isinstance(event, Usage):
                usage = event
            assert output is not None
            output.add(event)
        assert output is not None
        output.add(Charge(7))
    except GatewayError as err:
        failure = (type(err).__name__, err.message)
        if output is not None:
            output.fail(err)
    read = parsed(output.take(), (output.renderer.id, output.renderer.created)) if output is not None else []
    return {
        "events": read,
        "deltas": deltas,
        "usage": usage,
        "billed": billed,
        "failure": failure,
        "relayed": relayed,
    }


def parsed(wire: bytes, ids: tuple[str, int] | None) -> list[Any]:
    """The server-sent events a client parses from ``wire``, each chunk checked to carry this
    stream's id and created, without them and without the passed-on members."""
    decoder = SseDecoder()
    out: list[Any] = []
    for event in [*decoder.feed(wire), *decoder.close()]:
        if event.data == "[DONE]":
            out.append("[DONE]")
            continue
        chunk = orjson.loads(event.data)
        if "error" not in chunk:
            assert (chunk.pop("id"), chunk.pop("created")) == ids
        for key in PASSED_ON:
            if key != "usage" or chunk.get(key, 0) is None:
                chunk.pop(key, None)
        out.append(chunk)
    return out


async def compare(pieces: Sequence[bytes], *, include_usage: bool, broken: bool = False) -> int:
    """Both paths read the same; how many events the relay passed on as received."""
    relayed = await client_view(pieces, relay=True, include_usage=include_usage, broken=broken)
    decoded = await client_view(pieces, relay=False, include_usage=include_usage, broken=broken)
    assert decoded["relayed"] == 0
    count = relayed.pop("relayed")
    decoded.pop("relayed")
    assert relayed == decoded
    return int(count)


# ---- the variants --------------------------------------------------------------------------------


def blocks(text: bytes) -> list[bytes]:
    return [b for b in text.replace(b"\r\n", b"\n").split(b"\n\n") if b.strip()]


def joined(events: list[bytes]) -> bytes:
    return b"".join(e + b"\n\n" for e in events)


def rewritten(
    text: bytes, change: Callable[[dict[str, Any]], None], dump: Callable[[Any], bytes] = orjson.dumps
) -> bytes:
    out = []
    for block in blocks(text):
        if block.startswith(b"data: {"):
            chunk = orjson.loads(block[6:])
            change(chunk)
            block = b"data: " + dump(chunk)
        out.append(block)
    return joined(out)


def _no_usage(chunk: dict[str, Any]) -> None:
    if chunk.get("usage") is not None:
        chunk["usage"] = None


def _more_text(extra: str) -> Callable[[dict[str, Any]], None]:
    def change(chunk: dict[str, Any]) -> None:
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                delta["content"] += extra

    return change


ESCAPED = ' é "q" \\ / \n\t\x7f'
"""Text that JSON writes with escapes (which the relay reads) or as UTF-8."""


def _two_choices(text: bytes) -> bytes:
    """Each event once per choice (index 0, then 1), as an upstream streams ``n: 2``."""
    out = []
    for block in blocks(text):
        chunk = orjson.loads(block[6:]) if block.startswith(b"data: {") else None
        if not chunk or not chunk.get("choices"):
            out.append(block)
            continue
        for index in (0, 1):
            choices = [{**c, "index": index} for c in chunk["choices"]]
            out.append(b"data: " + orjson.dumps({**chunk, "choices": choices}))
    return joined(out)


def _ascii_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()  # \u00e9 and surrogate pairs, as Python writes


def _spaced_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "recorded": lambda text: text,
    "with [DONE]": lambda text: text if b"[DONE]" in text else text + b"data: [DONE]\n\n",
    "no usage": lambda text: joined([b for b in blocks(rewritten(text, _no_usage)) if b'"choices":[]' not in b]),
    "keep-alive comments": lambda text: joined(
        [x for i, b in enumerate(blocks(text)) for x in (b": ping", b)[i % 4 != 1 :]]
    ),
    "crlf": lambda text: text.replace(b"\n", b"\r\n"),
    "no ids": lambda text: rewritten(text, lambda chunk: chunk.pop("id", None)),
    "openrouter reasoning": lambda text: text.replace(b'"reasoning_content":', b'"reasoning":'),
    "escapes and emoji": lambda text: rewritten(text, _more_text(ESCAPED + "😀")),
    "escaped as ascii": lambda text: rewritten(text, _more_text(ESCAPED), _ascii_json),
    "surrogate escapes": lambda text: rewritten(text, _more_text("😀"), _ascii_json),
    "spaced json": lambda text: rewritten(text, lambda chunk: None, _spaced_json),
    "two choices": _two_choices,
}


def splits(text: bytes, seed: str) -> dict[str, list[bytes]]:
    """The ways a body reaches the adapter: whole, one read per event, pieces, random cuts."""
    rng = random.Random(seed)
    cuts = [sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 30)))) for _ in range(3)]
    return {
        "one read": [text],
        "read per event": list(sse_reply(text).chunks),
        "pieces of 7": list(sse_reply(text, piece=7).chunks),
        "pieces of 300": list(sse_reply(text, piece=300).chunks),
        **{
            f"random {i}": [text[a:b] for a, b in zip([0, *c], [*c, len(text)], strict=True)]
            for i, c in enumerate(cuts)
        },
    }


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", RECORDED)
async def test_every_recorded_stream_reads_the_same_relayed_or_decoded(name: str, variant: str) -> None:
    text = VARIANTS[variant](fixture(name))
    relayed = 0
    for pieces in splits(text, f"{name} {variant}").values():
        for include_usage in (True, False):
            relayed += await compare(pieces, include_usage=include_usage)
    if name.endswith("stream_gpt4o.sse") and variant not in ("crlf", "no ids", "spaced json", "surrogate escapes"):
        assert relayed > 0  # the relay took part, the comparison is not vacuous


@pytest.mark.parametrize("name", RECORDED)
async def test_streams_that_end_early_read_the_same(name: str) -> None:
    events = blocks(fixture(name))
    rng = random.Random(name)
    for keep in sorted({1, 2, len(events) // 2, len(events) - 2, *rng.sample(range(1, len(events)), 3)}):
        head = joined(events[:keep])
        for broken in (False, True):
            for pieces in (list(sse_reply(head).chunks), list(sse_reply(head, piece=97).chunks)):
                await compare(pieces, include_usage=True, broken=broken)
    cut = fixture(name)[: len(fixture(name)) // 2 + 7]  # mid-event: the last event is malformed
    await compare([cut], include_usage=False)


async def test_an_error_event_reads_the_same() -> None:
    head = joined(blocks(fixture("openai/stream_gpt4o.sse"))[:8])
    error = b'data: {"error": {"message": "Provider returned error", "code": 502}}\n\n'
    view = await client_view([head + error], relay=True, include_usage=True)
    assert view["failure"][0] == "UpstreamError"
    assert view["relayed"] > 0
    await compare([head + error], include_usage=True)
    await compare(list(sse_reply(head + error, piece=50).chunks), include_usage=False)


# ---- the comparison catches a relay that lets a shape through unchecked --------------------------

GPT4O = blocks(fixture("openai/stream_gpt4o.sse"))


def with_event(position: int, event: bytes) -> bytes:
    """The gpt-4o stream with ``event`` in place of its event at ``position``."""
    return joined([*GPT4O[:position], event, *GPT4O[position + 1 :]])


def _quirk(change: Callable[[bytes], bytes]) -> bytes:
    return with_event(10, change(GPT4O[10]))


QUIRKS = {
    # Each is relayed by a check that looks for harmful keys without their exact spelling.
    "spaced finish": _quirk(lambda e: e.replace(b'"finish_reason":null', b'"finish_reason": "stop"')),
    "spaced usage": _quirk(lambda e: e.replace(b'"usage":null', b'"usage": {"prompt_tokens":1,"completion_tokens":2}')),
    "refusal delta": _quirk(lambda e: e.replace(b'"delta":{"content":', b'"delta":{"refusal":"No.","content":')),
    "role on every chunk": _quirk(lambda e: e.replace(b'"delta":{', b'"delta":{"role":"assistant",')),
    "openrouter reasoning beside the text": _quirk(lambda e: e.replace(b'"delta":{', b'"delta":{"reasoning":"Hm.",')),
    "logprobs": _quirk(lambda e: e.replace(b'"logprobs":null', b'"logprobs":{"content":[]}')),
}

LOOSE = re.compile(rb'.*?"content":(' + relay_module._STRING + rb").*?\}\n\n")
"""A shape check that takes any event with a text for a relayable one."""


@pytest.mark.parametrize("quirk", list(QUIRKS))
async def test_a_relay_that_trusts_a_shape_it_does_not_check_fails_here(
    quirk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = QUIRKS[quirk]
    await compare([text], include_usage=True)  # the relay decodes the quirky event: the same answer
    monkeypatch.setattr(relay_module, "_CHOICE", LOOSE)
    with pytest.raises(AssertionError):
        await compare([text], include_usage=True)
