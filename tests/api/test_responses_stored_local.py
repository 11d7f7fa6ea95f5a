"""Stored responses on the embedded model (SmolLM2), through the official ``openai`` SDK: a turn
chained with ``previous_response_id`` reads what the whole conversation sent in ``input`` reads
(the same prompt tokens, the same greedy answer), a function call's result is sent back by
chaining, and a background response is polled to its end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.api.test_responses_local import WEATHER
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.settings import LocalModelSettings

pytestmark = pytest.mark.model

MODEL = LOCAL_CHAT_MODEL_ID


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    settings = fake_settings(tmp_path_factory.mktemp("local"), fake_models=False, local=LocalModelSettings(n_ctx=2048))
    server = Server(settings).start()
    key, _ = server.new_key(credits=2_000_000_000)
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=120) as client:
        yield client
    server.stop()


def test_a_chained_turn_reads_what_the_whole_conversation_reads(client: openai.OpenAI) -> None:
    args: dict[str, Any] = {"model": MODEL, "max_output_tokens": 16, "temperature": 0}
    first = client.responses.create(input="Name a fruit.", **args)
    chained = client.responses.create(input="Name another one.", previous_response_id=first.id, **args)
    whole = client.responses.create(
        input=[
            {"role": "user", "content": "Name a fruit."},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": "Name another one."},
        ],
        **args,
    )
    assert chained.usage is not None
    assert whole.usage is not None
    assert chained.usage.input_tokens == whole.usage.input_tokens
    assert chained.output_text == whole.output_text
    assert client.responses.retrieve(chained.id).output_text == chained.output_text


def test_a_function_result_is_sent_back_by_chaining(client: openai.OpenAI) -> None:
    r = client.responses.create(
        model=MODEL, input="What's the weather in Oslo?", tools=[WEATHER], tool_choice="required", max_output_tokens=60
    )
    (call,) = r.output
    assert call.type == "function_call"
    answer = client.responses.create(
        model=MODEL,
        tools=[WEATHER],
        previous_response_id=r.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}],
        max_output_tokens=24,
    )
    assert answer.output_text
    kinds = [item.type for item in client.responses.input_items.list(answer.id, order="asc")]
    assert kinds == ["message", "function_call", "function_call_output"]


def test_a_background_response_is_polled(client: openai.OpenAI) -> None:
    started = client.responses.create(model=MODEL, input="Say hello.", max_output_tokens=12, background=True)
    assert started.status in {"queued", "in_progress"}
    deadline = time.monotonic() + 120
    while (done := client.responses.retrieve(started.id)).status in {"queued", "in_progress"}:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert done.status in {"completed", "incomplete"}
    assert done.output_text
    assert done.usage is not None
    assert 0 < done.usage.output_tokens <= 12
