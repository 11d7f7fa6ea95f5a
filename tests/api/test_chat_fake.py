"""Chat completions through the whole gateway (auth, reserve, provider, settle, render) on the
deterministic fake model: the response contract, streaming format and credit metering."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from tests.serving import Server

FAKE = "fake/echo"


def post(server: Server, key: str, body: dict[str, Any], **kw: Any) -> httpx2.Response:
    return httpx2.post(
        f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30, **kw
    )


def sse_frames(text: str) -> list[Any]:
    frames = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        data = block.removeprefix("data: ")
        frames.append(data if data == "[DONE]" else orjson.loads(data))
    return frames


def test_completion_has_the_documented_shape_and_meters_credits(server: Server) -> None:
    key, account = server.new_key(credits=10_000)
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "one two three"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "echo-1"  # as the upstream reports it
    (choice,) = body["choices"]
    assert choice == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "one two three",
            "refusal": None,
            "annotations": None,
            "audio": None,
            "tool_calls": None,
        },
        "finish_reason": "stop",
        "logprobs": None,
    }
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (3, 3, 6)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    # The fake model costs 1 credit per token each way: 6 credits = 3e-6 USD.
    assert body["meta"] == {"usage": {"credits_used": 6, "usd_spent": 6 / 2_000_000}}
    assert server.balance(account) == 10_000 - 6
    assert server.usage_rows(account) == [(FAKE, 3, 3, 6, "ok")]
    assert server.open_reservations() == 0


def test_alias_path_without_v1(server: Server) -> None:
    key, _ = server.new_key(credits=10_000)
    r = httpx2.post(
        f"{server.url}/chat/completions",
        json={"model": FAKE, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "hi"


def test_max_tokens_truncates_with_finish_reason_length(server: Server) -> None:
    key, _ = server.new_key(credits=10_000)
    body = {"model": FAKE, "messages": [{"role": "user", "content": "a b c d e"}], "max_completion_tokens": 2}
    r = post(server, key, body)
    choice = r.json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("a b", "length")


def test_stream_sends_role_then_deltas_then_usage_then_done(server: Server) -> None:
    key, account = server.new_key(credits=10_000)
    body = {
        "model": FAKE,
        "messages": [{"role": "user", "content": "alpha beta gamma"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    r = post(server, key, body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(r.text)
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "alpha beta gamma"
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) == 3  # one per token, not one at the end
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finish == ["stop"]
    tail = chunks[-1]
    assert tail["choices"] == []
    assert tail["usage"]["prompt_tokens"] == 3
    assert tail["usage"]["completion_tokens"] == 3
    assert tail["meta"]["usage"]["credits_used"] == 6
    assert server.balance(account) == 10_000 - 6


def test_stream_without_include_usage_still_reports_the_charge(server: Server) -> None:
    key, _ = server.new_key(credits=10_000)
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "x y"}], "stream": True})
    frames = sse_frames(r.text)
    assert frames[-1] == "[DONE]"
    last = frames[-2]
    assert "usage" not in last
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["meta"]["usage"]["credits_used"] == 4


def test_n_choices_are_all_returned_and_billed(server: Server) -> None:
    key, account = server.new_key(credits=10_000)
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "p q"}], "n": 3})
    body = r.json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["usage"]["completion_tokens"] == 6
    assert server.balance(account) == 10_000 - (2 + 6)


def test_stop_sequence_is_applied(server: Server) -> None:
    key, _ = server.new_key(credits=10_000)
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "a b STOP c"}], "stop": ["STOP"]})
    assert r.json()["choices"][0]["message"]["content"] == "a b"


def test_forced_tool_choice_returns_a_tool_call(server: Server) -> None:
    key, _ = server.new_key(credits=10_000)
    tool = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
    body = {
        "model": FAKE,
        "messages": [{"role": "user", "content": "time?"}],
        "tools": [tool],
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    }
    choice = post(server, key, body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_time", "arguments": "{}"}
