"""``/v1/messages`` says which stop sequence ended the text (``stop_reason: "stop_sequence"`` and
``stop_sequence``), streamed and not, as the providers that know it report it: the fake model and
the local model apply stops themselves, Anthropic says which matched, and so do vLLM
(``stop_reason``) and SGLang (``matched_stop``) behind the OpenAI wire; OpenAI itself does not, so
its answer stays ``end_turn`` with ``stop_sequence`` null."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import orjson
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
from unigate.catalog.builtin import FAKE_MODEL_ID, fake_spec
from unigate.core.provider import Provider
from unigate.core.results import ChoiceDelta
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.local.outputs import Collected
from unigate.providers.local.sampling import TextStream
from unigate.providers.openai_compat import OpenAICompatProvider

FAKE = FAKE_MODEL_ID
CLAUDE = model_spec("anthropic", "claude-sonnet-4-5", id="anthropic/claude-sonnet-4.5", max_output=4096)
VLLM = model_spec("vllm", "gpt-4o", id="vllm/gpt-4o")


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers: dict[str, Provider] = {
        "anthropic": AnthropicProvider(provider_config("anthropic", upstream.url)),
        "vllm": OpenAICompatProvider(provider_config("vllm", upstream.url + "/v1")),
    }
    data_dir: Path = tmp_path_factory.mktemp("stops")
    running = Server(fake_settings(data_dir), models=[fake_spec(), CLAUDE, VLLM], providers=providers).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=100_000_000)[0]


@pytest.fixture
def client(server: Server, key: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0, timeout=30) as client:
        yield client


def _ask(client: anthropic.Anthropic, model: str, text: str, stops: list[str]) -> anthropic.types.Message:
    messages: Any = [{"role": "user", "content": text}]
    return client.messages.create(model=model, max_tokens=50, messages=messages, stop_sequences=stops)


def _streamed(client: anthropic.Anthropic, model: str, text: str, stops: list[str]) -> anthropic.types.Message:
    messages: Any = [{"role": "user", "content": text}]
    with client.messages.stream(model=model, max_tokens=50, messages=messages, stop_sequences=stops) as stream:
        return stream.get_final_message()


def _message_delta(server: Server, key: str, body: dict[str, Any]) -> Any:
    r = httpx2.post(f"{server.url}/v1/messages", json={**body, "stream": True}, headers={"x-api-key": key})
    assert r.status_code == 200, r.text
    datas = [orjson.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    return next(d for d in datas if d["type"] == "message_delta")["delta"]


# ---- the fake model applies stops itself -------------------------------------------------------


@pytest.mark.parametrize("ask", [_ask, _streamed])
def test_the_matched_stop_is_reported(client: anthropic.Anthropic, ask: Any) -> None:
    message = ask(client, FAKE, "one two three four", ["four", "three"])  # the earliest in the text wins
    assert message.content[0].text == "one two"
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "three")


@pytest.mark.parametrize("ask", [_ask, _streamed])
def test_no_stop_matched_is_end_turn(client: anthropic.Anthropic, ask: Any) -> None:
    message = ask(client, FAKE, "one two three", ["nine"])
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)


def test_the_stream_carries_it_on_message_delta(server: Server, key: str) -> None:
    body = {
        "model": FAKE,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "a b c"}],
        "stop_sequences": ["b"],
    }
    assert _message_delta(server, key, body) == {"stop_reason": "stop_sequence", "stop_sequence": "b"}


def test_chat_completions_still_say_stop(server: Server, key: str) -> None:
    body = {"model": FAKE, "messages": [{"role": "user", "content": "a b c"}], "stop": ["b"]}
    r = httpx2.post(f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    choice = r.json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("a", "stop")


# ---- Anthropic says which stop matched ----------------------------------------------------------


def test_anthropic_upstream(upstream: Emulator, client: anthropic.Anthropic) -> None:
    payload = {**fixture_json("anthropic/message.json"), "stop_reason": "stop_sequence", "stop_sequence": "###"}
    upstream.queue(json_reply(payload))
    message = _ask(client, CLAUDE.id, "Count", ["###", "END"])
    assert upstream.last.body["stop_sequences"] == ["###", "END"]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "###")


def test_anthropic_upstream_streamed(upstream: Emulator, client: anthropic.Anthropic) -> None:
    end = b'"delta": {"stop_reason": "end_turn", "stop_sequence":null}'
    sse = fixture("anthropic/stream_basic.sse")
    assert end in sse
    upstream.queue(sse_reply(sse.replace(end, b'"delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"}')))
    message = _streamed(client, CLAUDE.id, "Say hello", ["END"])
    assert message.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")


# ---- OpenAI's wire does not say; vLLM and SGLang add it ---------------------------------------


def test_openai_compatible_upstream_keeps_end_turn(upstream: Emulator, client: anthropic.Anthropic) -> None:
    """OpenAI's wire drops the matched stop from the text and says only ``stop``, as for a natural
    end: which stop matched, if any, cannot be told, so none is named."""
    upstream.queue(json_reply(fixture_json("openai/gpt4o_vision.json")))
    message = _ask(client, VLLM.id, "Describe", ["END"])
    assert upstream.last.body["stop"] == ["END"]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)


def test_vllm_names_the_stop_that_matched(upstream: Emulator, client: anthropic.Anthropic) -> None:
    upstream.queue(json_reply(fixture_json("openai/vllm_stop_reason.json")))
    message = _ask(client, VLLM.id, "What should I do for a 4 day vacation in Spain?", ["\n", "END"])
    assert message.content[0].text.startswith("Spain!")  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "\n")


@pytest.mark.parametrize(("field", "value"), [("stop_reason", "END"), ("matched_stop", "END"), ("stop_reason", 128009)])
def test_a_stream_names_the_stop_its_finish_chunk_names(
    upstream: Emulator, client: anthropic.Anthropic, field: str, value: object
) -> None:
    """vLLM's ``stop_reason`` and SGLang's ``matched_stop`` on the finish chunk; a stop token id (an
    integer) or a word the caller did not ask to stop at names nothing."""
    finish = b'"finish_reason":"stop"}'
    sse = fixture("openai/stream_gpt4o.sse")
    assert sse.count(finish) == 1
    upstream.queue(sse_reply(sse.replace(finish, b'"finish_reason":"stop",' + orjson.dumps({field: value})[1:])))
    message = _streamed(client, VLLM.id, "Describe", ["END"])
    expected = ("stop_sequence", "END") if value == "END" else ("end_turn", None)
    assert (message.stop_reason, message.stop_sequence) == expected


def test_a_named_stop_the_caller_did_not_ask_for_is_not_reported(
    upstream: Emulator, client: anthropic.Anthropic
) -> None:
    upstream.queue(json_reply(fixture_json("openai/vllm_stop_reason.json")))
    message = _ask(client, VLLM.id, "Plan a trip", ["END"])
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)


# ---- the local model applies stops itself (no model needed to test the text stream) -----------


def test_the_local_text_stream_names_the_stop_it_cut_at() -> None:
    text = TextStream(("END", "lo"))
    out = [text.push(piece.encode(), None)[0] for piece in ("Hel", "lo END")]
    assert "".join(out) == "Hel"
    assert text.stopped == "lo"
    assert TextStream(("x",)).stopped is None


def test_the_local_choice_keeps_the_stop() -> None:
    collected = Collected()
    collected.add(ChoiceDelta(0, content="Hel"))
    collected.add(ChoiceDelta(0, finish_reason="stop", stop_sequence="lo"))
    choice = collected.choice(0, logprobs=False)
    assert (choice.content, choice.finish_reason, choice.stop_sequence) == ("Hel", "stop", "lo")
