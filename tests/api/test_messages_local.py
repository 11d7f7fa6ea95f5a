"""The official ``anthropic`` SDK, unchanged, against ``unigate`` serving the embedded SmolLM2 model
through ``/v1/messages``: create, stream, stop sequences and a forced tool round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import jsonschema
import pytest

from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.settings import LocalModelSettings

pytestmark = pytest.mark.model

MODEL = LOCAL_CHAT_MODEL_ID
GREEDY: dict[str, Any] = {"temperature": 0}  # the SDK has no temperature argument: sent as extra_body
WEATHER: Any = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 40}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = fake_settings(tmp_path_factory.mktemp("local"), fake_models=False, local=LocalModelSettings(n_ctx=2048))
    running = Server(settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(local_server: Server) -> Iterator[anthropic.Anthropic]:
    key, _ = local_server.new_key(credits=2_000_000_000)
    with anthropic.Anthropic(base_url=local_server.url, api_key=key, max_retries=0, timeout=120) as client:
        yield client


def test_create_with_system_and_turns(client: anthropic.Anthropic) -> None:
    r = client.messages.create(
        model=MODEL,
        max_tokens=24,
        system="You are terse.",
        messages=[
            {"role": "user", "content": "Hi!"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "Name a color."}]},
        ],
    )
    assert r.model == MODEL
    assert r.content[0].type == "text"
    assert r.content[0].text
    assert r.stop_reason in {"end_turn", "max_tokens"}
    assert r.usage.input_tokens > 10
    assert 0 < r.usage.output_tokens <= 24
    assert r.model_dump()["meta"]["usage"]["credits_used"] > 0


def test_stream_matches_create(client: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "Count to five."}]
    with client.messages.stream(model=MODEL, max_tokens=24, messages=messages, extra_body=GREEDY) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    whole = client.messages.create(model=MODEL, max_tokens=24, messages=messages, extra_body=GREEDY)
    assert whole.content[0].type == "text"
    assert streamed == whole.content[0].text == "".join(b.text for b in final.content if b.type == "text")
    assert final.usage.input_tokens == whole.usage.input_tokens
    assert final.usage.output_tokens == whole.usage.output_tokens


def test_stop_sequences_cut_the_text(client: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "Write a sentence about the sea."}]
    free = client.messages.create(model=MODEL, max_tokens=24, messages=messages, extra_body=GREEDY)
    assert free.content[0].type == "text"
    text = free.content[0].text
    words = text.split()
    assert len(words) > 2
    stop = " " + words[2]
    cut = client.messages.create(
        model=MODEL, max_tokens=24, messages=messages, stop_sequences=[stop], extra_body=GREEDY
    )
    assert cut.content[0].type == "text"
    assert cut.content[0].text == text[: text.index(stop)]
    assert (cut.stop_reason, cut.stop_sequence) == ("stop_sequence", stop)


def test_forced_tool_round_trip(client: anthropic.Anthropic) -> None:
    question: Any = {"role": "user", "content": "What's the weather in Oslo?"}
    r = client.messages.create(
        model=MODEL,
        max_tokens=60,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[question],
        extra_body=GREEDY,
    )
    assert r.stop_reason == "tool_use"
    (call,) = r.content
    assert call.type == "tool_use"
    assert call.name == "get_weather"
    jsonschema.validate(call.input, WEATHER["input_schema"])

    turn: Any = {"role": "assistant", "content": [call.model_dump(include={"type", "id", "name", "input"})]}
    # Greedy, and no further tool call allowed: in "auto" a sampled answer may call the tool again.
    answer = client.messages.create(
        model=MODEL,
        max_tokens=24,
        tools=[WEATHER],
        tool_choice={"type": "none"},
        extra_body=GREEDY,
        messages=[
            question,
            turn,
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]},
        ],
    )
    assert answer.content[0].type == "text"
    assert answer.content[0].text


def test_forced_tool_streams(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=60,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Rome?"}],
        extra_body=GREEDY,
    ) as stream:
        final = stream.get_final_message()
    (call,) = final.content
    assert call.type == "tool_use"
    jsonschema.validate(call.input, WEATHER["input_schema"])
    assert final.stop_reason == "tool_use"


def test_images_are_refused_in_anthropics_shape(client: anthropic.Anthropic) -> None:
    image: Any = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": [image]}])
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": caught.value.body["error"]["message"]},  # type: ignore[index]
    }
