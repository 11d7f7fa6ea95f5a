"""Every rejection is an OpenAI-style error body with the right status, never a 500."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.api.test_chat_fake import FAKE, post, sse_frames
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import fake_spec
from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest
from unigate.core.results import ChoiceDelta, StreamEvent
from unigate.providers.fake import FakeProvider

USER = [{"role": "user", "content": "hello"}]


def error_of(r: httpx2.Response, status: int, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str)
    assert err["message"]
    assert err["param"] == param
    if code is not None:
        assert err["code"] == code
    return dict(err)


@pytest.fixture
def key(server: Server) -> str:
    return server.new_key(credits=1_000_000)[0]


def test_missing_key_is_401(server: Server) -> None:
    r = httpx2.post(f"{server.url}/v1/chat/completions", json={"model": FAKE, "messages": USER})
    assert error_of(r, 401, code="missing_api_key")["type"] == "authentication_error"


def test_wrong_key_is_401(server: Server) -> None:
    error_of(post(server, "0" * 32, {"model": FAKE, "messages": USER}), 401, code="invalid_api_key")


def test_non_bearer_scheme_is_401(server: Server, key: str) -> None:
    r = httpx2.post(
        f"{server.url}/v1/chat/completions", json={"model": FAKE, "messages": USER}, headers={"Authorization": key}
    )
    error_of(r, 401, code="missing_api_key")


def test_unknown_model_is_404(server: Server, key: str) -> None:
    error_of(post(server, key, {"model": "nope/nothing", "messages": USER}), 404, param="model", code="model_not_found")


def test_invalid_json_is_400(server: Server, key: str) -> None:
    r = httpx2.post(
        f"{server.url}/v1/chat/completions", content=b"{not json", headers={"Authorization": f"Bearer {key}"}
    )
    error_of(r, 400, code="invalid_json")


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b'"text"'])
def test_body_that_is_not_an_object_is_400(server: Server, key: str, raw: bytes) -> None:
    r = httpx2.post(f"{server.url}/v1/chat/completions", content=raw, headers={"Authorization": f"Bearer {key}"})
    error_of(r, 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER}, "model"),
        ({"model": FAKE}, "messages"),
        ({"model": FAKE, "messages": []}, "messages"),
        ({"model": FAKE, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0]"),
        ({"model": FAKE, "messages": [{"role": "user"}]}, "messages[0].content"),
        ({"model": FAKE, "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": FAKE, "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
        ({"model": FAKE, "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"model": FAKE, "messages": [{"role": "assistant"}]}, "messages[0]"),
        ({"model": FAKE, "messages": USER, "temperature": 5}, "temperature"),
        ({"model": FAKE, "messages": USER, "top_p": 0}, "top_p"),
        ({"model": FAKE, "messages": USER, "max_tokens": 0}, "max_tokens"),
        ({"model": FAKE, "messages": USER, "max_completion_tokens": "many"}, "max_completion_tokens"),
        ({"model": FAKE, "messages": USER, "n": 0}, "n"),
        ({"model": FAKE, "messages": USER, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": FAKE, "messages": USER, "top_logprobs": 2}, "top_logprobs"),
        ({"model": FAKE, "messages": USER, "stream_options": {"include_usage": True}}, "stream_options"),
        ({"model": FAKE, "messages": USER, "response_format": {"type": "xml"}}, "response_format"),
        ({"model": FAKE, "messages": USER, "tool_choice": "required"}, "tool_choice"),
        ({"model": FAKE, "messages": USER, "logit_bias": {"abc": 1}}, "logit_bias"),
        ({"model": FAKE, "messages": USER, "frobnicate": True}, "frobnicate"),
        (
            {"model": FAKE, "messages": USER, "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "tools[0].function.name",
        ),
    ],
)
def test_schema_violations_are_400_naming_the_param(server: Server, key: str, body: dict[str, Any], param: str) -> None:
    err = error_of(post(server, key, body), 400, param=param)
    assert err["type"] == "invalid_request_error"


def test_unrecognized_argument_message_matches_openai(server: Server, key: str) -> None:
    err = error_of(post(server, key, {"model": FAKE, "messages": USER, "frobnicate": 1}), 400, param="frobnicate")
    assert err["message"] == "Unrecognized request argument supplied: frobnicate"


def test_parameter_the_model_cannot_honour_is_rejected(server: Server, key: str) -> None:
    body = {"model": FAKE, "messages": USER, "reasoning_effort": "high"}
    error_of(post(server, key, body), 400, param="reasoning_effort", code="unsupported_parameter")


def test_image_for_a_text_only_model_is_rejected(server: Server, key: str) -> None:
    content = [
        {"type": "text", "text": "what is it"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
    ]
    body = {"model": FAKE, "messages": [{"role": "user", "content": content}]}
    error_of(post(server, key, body), 400, param="messages[0].content[1]", code="unsupported_content")


def test_insufficient_credits_is_402_before_any_upstream_call(server: Server) -> None:
    key, account = server.new_key(credits=10)
    error_of(post(server, key, {"model": FAKE, "messages": USER}), 402, code="insufficient_credits")
    assert server.balance(account) == 10
    assert server.usage_rows(account) == []


def test_upstream_failure_is_502_and_costs_nothing(server: Server) -> None:
    key, account = server.new_key(credits=100_000)
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "FAIL"}]})
    error_of(r, 502, code="upstream_error")
    assert server.balance(account) == 100_000
    assert server.usage_rows(account) == [(FAKE, 0, 0, 0, "error")]
    assert server.open_reservations() == 0


def test_upstream_failure_before_the_first_token_of_a_stream_is_a_plain_502(server: Server, key: str) -> None:
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "FAIL"}], "stream": True})
    error_of(r, 502, code="upstream_error")


def test_overload_is_503_with_retry_after(server: Server, key: str) -> None:
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "OVERLOADED"}]})
    error_of(r, 503, code="model_overloaded")
    assert r.headers["Retry-After"] == "1"


def test_failure_mid_stream_ends_with_an_error_event_not_done(server: Server) -> None:
    key, account = server.new_key(credits=100_000)
    body = {"model": FAKE, "messages": [{"role": "user", "content": "FAIL-MIDSTREAM"}], "stream": True}
    r = post(server, key, body)
    assert r.status_code == 200
    frames = sse_frames(r.text)
    assert "[DONE]" not in frames
    assert frames[-1]["error"]["code"] == "upstream_error"
    assert not any(f.get("choices") and f["choices"][0].get("finish_reason") for f in frames[:-1])
    (row,) = server.usage_rows(account)
    assert row[4] == "error"
    assert row[2] == 1
    assert server.balance(account) == 100_000 - row[3]


def test_wrong_method_is_405(server: Server) -> None:
    r = httpx2.get(f"{server.url}/v1/chat/completions")
    error_of(r, 405, code="method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_unknown_path_is_404(server: Server) -> None:
    error_of(httpx2.get(f"{server.url}/v1/nothing-here"), 404, code="unknown_url")


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path, max_body_bytes=2048)).start()
    yield running
    running.stop()


def test_body_too_large_is_413(small_server: Server) -> None:
    key, _ = small_server.new_key(credits=1_000)
    body = {"model": FAKE, "messages": [{"role": "user", "content": "x" * 5000}]}
    error_of(post(small_server, key, body), 413, code="request_too_large")


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(
        fake_settings(tmp_path), models=[fake_spec()], providers={"fake": FakeProvider(token_delay_s=0.05)}
    ).start()
    yield running
    running.stop()


def test_client_disconnect_mid_stream_settles_exactly_once(slow_server: Server) -> None:
    key, account = slow_server.new_key(credits=100_000)
    words = " ".join(f"w{i}" for i in range(200))
    body = {"model": FAKE, "messages": [{"role": "user", "content": words}], "stream": True}
    with httpx2.stream(
        "POST", f"{slow_server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        received = 0
        for line in r.iter_lines():
            if line.startswith("data: "):
                received += 1
            if received == 3:
                break
    deadline = time.monotonic() + 5
    while slow_server.open_reservations() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert slow_server.open_reservations() == 0
    (row,) = slow_server.usage_rows(account)
    _model, _prompt, completion, credits, status = row
    assert status == "cancelled"
    assert 3 <= completion < 200  # billed for what was generated, not for the whole answer
    assert slow_server.balance(account) == 100_000 - credits


def test_deprecated_model_is_404_model_deprecated(server: Server, key: str) -> None:
    r = post(server, key, {"model": "mistralai/Mistral-7B-Instruct-v0.2", "messages": USER})
    error_of(r, 404, param="model", code="model_deprecated")


class _BuggyProvider(FakeProvider):
    """Fails with a plain exception (a bug, not an upstream error) after its first token."""

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        async for event in super().stream(request, model):
            yield event
            if isinstance(event, ChoiceDelta) and event.content:
                raise ValueError("a bug")


@pytest.fixture
def buggy_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path), models=[fake_spec()], providers={"fake": _BuggyProvider()}).start()
    yield running
    running.stop()


def test_a_bug_mid_stream_ends_with_a_generic_error_event_and_is_billed_as_error(buggy_server: Server) -> None:
    key, account = buggy_server.new_key(credits=100_000)
    r = post(buggy_server, key, {"model": FAKE, "messages": [{"role": "user", "content": "a b c"}], "stream": True})
    assert r.status_code == 200
    frames = sse_frames(r.text)
    assert "[DONE]" not in frames
    assert frames[-1]["error"]["type"] == "api_error"
    assert "a bug" not in r.text  # no internals in the response
    (row,) = buggy_server.usage_rows(account)
    assert row[4] == "error"
    assert buggy_server.open_reservations() == 0
