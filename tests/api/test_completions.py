"""``POST /v1/completions`` (legacy text completions) on the deterministic fake model, through the
official ``openai`` SDK: several prompts and ``n``, ``echo``, streams, billing, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from tests.api.test_chat_fake import sse_frames
from tests.serving import Server, fake_settings
from unigate.api.openai.completions.schema import CompletionsRequest
from unigate.core.chat import Message, TextPart

FAKE = "fake/echo"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("completions"))).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    key = server.new_key(credits=10_000_000)[0]
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0) as client:
        yield client


def post(server: Server, key: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(
        f"{server.url}/v1/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def test_create(client: openai.OpenAI) -> None:
    r = client.completions.create(model=FAKE, prompt="one two three", max_tokens=5)
    assert r.id.startswith("cmpl-")
    assert (r.object, r.model) == ("text_completion", "echo-1")
    (choice,) = r.choices
    assert (choice.index, choice.text, choice.finish_reason, choice.logprobs) == (0, "one two three", "stop", None)
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (3, 3, 6)
    assert r.model_dump()["meta"]["usage"]["credits_used"] == 6


def test_max_tokens_defaults_to_16(client: openai.OpenAI) -> None:
    r = client.completions.create(model=FAKE, prompt=" ".join(str(i) for i in range(30)))
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None
    assert r.usage.completion_tokens == 16


def test_prompts_times_n_choices_and_echo(server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    r = post(server, key, {"model": FAKE, "prompt": ["a b", "c d e"], "n": 2, "echo": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(c["index"], c["text"]) for c in body["choices"]] == [
        (0, "a ba b"),  # the fake model answers with the prompt: echo puts it in front once more
        (1, "a ba b"),
        (2, "c d ec d e"),
        (3, "c d ec d e"),
    ]
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15}
    assert body["meta"]["usage"]["credits_used"] == 15
    assert [row[1:] for row in server.usage_rows(account)] == [(2, 4, 6, "ok"), (3, 6, 9, "ok")]


def test_stream(server: Server, client: openai.OpenAI) -> None:
    key = server.new_key(credits=1_000_000)[0]
    body = {"model": FAKE, "prompt": ["a b", "c"], "stream": True, "stream_options": {"include_usage": True}}
    frames = sse_frames(post(server, key, body).text)
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    assert all(c["object"] == "text_completion" for c in chunks)
    texts: dict[int, str] = {}
    for c in chunks[:-1]:
        (choice,) = c["choices"]
        texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
    assert texts == {0: "a b", 1: "c"}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert chunks[-1]["meta"]["usage"]["credits_used"] == 6

    stream = client.completions.create(model=FAKE, prompt="x y", stream=True, echo=True)
    assert "".join(c.choices[0].text for c in stream if c.choices) == "x yx y"


def test_failure_mid_stream_is_an_error_frame(server: Server) -> None:
    key = server.new_key(credits=1_000_000)[0]
    frames = sse_frames(post(server, key, {"model": FAKE, "prompt": "FAIL-MIDSTREAM", "stream": True}).text)
    assert frames[-1]["error"]["code"] == "upstream_error"
    assert "[DONE]" not in frames


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x"}, "model"),
        ({"model": FAKE}, "prompt"),
        ({"model": FAKE, "prompt": [1, 2, 3]}, "prompt"),
        ({"model": FAKE, "prompt": "x", "suffix": "y"}, "suffix"),
        ({"model": FAKE, "prompt": "x", "best_of": 3}, "best_of"),
        ({"model": FAKE, "prompt": "x", "echo": True, "logprobs": 2}, "echo"),
        ({"model": FAKE, "prompt": "x", "logprobs": 2}, "logprobs"),  # the fake model has no logprobs
        ({"model": FAKE, "prompt": "x", "logprobs": 9}, "logprobs"),
        ({"model": FAKE, "prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": FAKE, "prompt": "x", "stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_bad_requests_get_openai_errors(server: Server, body: dict[str, Any], param: str) -> None:
    key = server.new_key(credits=1_000)[0]
    r = post(server, key, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_each_prompt_is_a_user_message_and_a_raw_prompt() -> None:
    requests = CompletionsRequest.model_validate(
        {"model": "m", "prompt": ["Once upon", "a time"], "logprobs": 3, "temperature": 0}
    ).to_canonical()
    assert [(r.messages, r.raw_prompt) for r in requests] == [
        ((Message("user", (TextPart("Once upon"),)),), "Once upon"),
        ((Message("user", (TextPart("a time"),)),), "a time"),
    ]
    assert requests[0].max_tokens == 16
    assert (requests[0].logprobs, requests[0].top_logprobs) == (True, 3)
    assert requests[0].requested == {"logprobs", "top_logprobs", "temperature"}
