"""Routing through the whole gateway, driven by the official ``openai`` SDK: deployments configured
as in the TOML file, in front of local emulators. A deployment that fails before the first byte
(500, 429, a slow first byte, a reset, a refused connection, a stream cut before its first delta)
is replaced by the next deployment or the fallback model; when all fail the client gets a clear
error with the status of the failure; after the first byte nothing is retried and a cut stream
ends with an error, never with ``finish_reason: "stop"``; a client that leaves closes the upstream
connection within a second and pays for what was generated."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest

from tests.providers.emulators import (
    Emulator,
    EmulatorThread,
    Reply,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    sse_reply,
)
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import FAKE_MODEL_ID
from unigate.errors import ProviderNotConfigured
from unigate.providers.registry import build_providers, load_deployments
from unigate.providers.router import Router
from unigate.providers.routing import RoutedEmbedder, RoutingConfig
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, Settings

GPT = model_spec("openai", "gpt-4o", id="openai/gpt-4o")
MINI = model_spec("openai", "gpt-4o-mini", id="openai/gpt-4o-mini")
CLAUDE = model_spec("anthropic", "claude-sonnet-4-5", id="anthropic/claude-sonnet-4.5", max_output=4096)
DEEPSEEK = model_spec("deepseek", "deepseek-chat", id="deepseek/deepseek-chat")
MISTRAL = model_spec("mistral", "mistral-large-latest", id="mistral/mistral-large")
GROK = model_spec("xai", "grok-4", id="xai/grok-4")
MODELS = [GPT, MINI, CLAUDE, DEEPSEEK, MISTRAL, GROK]

OK = fixture_json("openai/gpt4o_vision.json")
OK_TEXT = OK["choices"][0]["message"]["content"]
FAIL = fixture_json("openai/error_server.json")
RATE = fixture_json("openai/error_rate_limit.json")
STREAM = fixture("openai/stream_gpt4o.sse")
EVENTS = [e + b"\n\n" for e in STREAM.split(b"\n\n") if e.strip()]
STREAM_TEXT = "".join(
    c["delta"].get("content") or "" for e in EVENTS for c in orjson.loads(e.removeprefix(b"data: "))["choices"]
)
SLOW_FIRST_BYTE_S = 2.0


@contextmanager
def blackhole() -> Iterator[int]:
    """A port whose listen backlog is full: connecting to it hangs, as to a host that drops SYNs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port: int = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for sock in fillers:
            sock.setblocking(False)
            with suppress(BlockingIOError):
                sock.connect(("127.0.0.1", port))
        try:
            yield port
        finally:
            for sock in fillers:
                sock.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with blackhole() as hole:
        yield from serve(upstream, tmp_path_factory, hole)


def serve(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory, hole: int) -> Iterator[Server]:
    short = {"first_byte_timeout_s": 0.3, "total_timeout_s": 0.6}
    tables: dict[str, dict[str, Any]] = {
        "openai": {
            "deployments": [
                {"base_url": f"{upstream.url}/a/v1", "api_key": "key-a", **short},
                {"base_url": f"{upstream.url}/b/v1", "api_key": "key-b"},
            ]
        },
        "anthropic": {"base_url": f"{upstream.url}/c", "api_key": "key-c"},
        "deepseek": {
            "api_key": "key-d",
            "deployments": [
                {"base_url": f"http://127.0.0.1:{closed_port()}/v1"},
                {"base_url": f"{upstream.url}/d/v1", **short},
            ],
        },
        "mistral": {"base_url": f"{upstream.url}/m/v1", "api_key": "key-m"},
        "xai": {
            "api_key": "key-x",
            "deployments": [
                {"base_url": f"http://127.0.0.1:{hole}/v1", "connect_timeout_s": 0.3},
                {"base_url": f"{upstream.url}/x/v1"},
            ],
        },
    }
    routing = {
        "retries": 1,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "breaker_failures": 1000,  # breakers have their own tests (test_breaker.py)
        "fallbacks": {GPT.id: [CLAUDE.id]},
    }
    data_dir: Path = tmp_path_factory.mktemp("routing")
    settings = fake_settings(data_dir, management_key="mk-test", providers=tables, routing=routing)
    running = Server(settings, models=MODELS).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def account(server: Server) -> tuple[str, int]:
    return server.new_key(credits=100_000_000)


@pytest.fixture
def client(server: Server, account: tuple[str, int], upstream: Emulator) -> Iterator[openai.OpenAI]:
    upstream.replies.clear()
    upstream.requests.clear()
    upstream.disconnected_at = None
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=account[0], max_retries=0, timeout=30) as client:
        yield client


def called(upstream: Emulator) -> list[str]:
    """Which deployment each upstream request went to: ``a``, ``b``, ``c``..."""
    return [r.path.split("/")[1] for r in upstream.requests]


def ask(client: openai.OpenAI, model: str = GPT.id) -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}])


def ask_stream(client: openai.OpenAI, model: str = GPT.id) -> tuple[str, list[str]]:
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}], stream=True)
    text, finishes = "", list[str]()
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finishes += [choice.finish_reason] if choice.finish_reason else []
    return text, finishes


BEFORE_FIRST_BYTE: dict[str, Reply] = {
    "500": json_reply(FAIL, status=500),
    "429": json_reply(RATE, status=429, headers={"Retry-After": "20"}),
    "503": json_reply(FAIL, status=503),
    "slow first byte": replace(json_reply(OK), delay_s=SLOW_FIRST_BYTE_S),
    "reset mid-body": Reply(chunks=(b'{"id": "chatcmpl-1", "choi',), end="reset"),
}


@pytest.mark.parametrize("fault", list(BEFORE_FIRST_BYTE))
def test_a_failing_deployment_is_replaced_by_the_next(upstream: Emulator, client: openai.OpenAI, fault: str) -> None:
    upstream.queue(BEFORE_FIRST_BYTE[fault], json_reply(OK))
    r = ask(client)
    assert r.choices[0].message.content == OK_TEXT
    assert r.choices[0].finish_reason == "stop"
    assert called(upstream) == ["a", "b"]
    assert [q.headers["authorization"] for q in upstream.requests] == ["Bearer key-a", "Bearer key-b"]


STREAM_FAULTS: dict[str, Reply] = {
    "500": json_reply(FAIL, status=500),
    "429": json_reply(RATE, status=429, headers={"Retry-After": "20"}),
    "slow first byte": sse_reply(STREAM, delay_s=SLOW_FIRST_BYTE_S),
    "truncated before the first delta": sse_reply(EVENTS[0], end="truncate"),
    "reset before the first delta": sse_reply(EVENTS[0], end="reset"),
    "ended before the first delta": sse_reply(EVENTS[0]),
}


@pytest.mark.parametrize("fault", list(STREAM_FAULTS))
def test_a_stream_failing_before_its_first_delta_is_served_by_the_next(
    upstream: Emulator, client: openai.OpenAI, fault: str
) -> None:
    upstream.queue(STREAM_FAULTS[fault], sse_reply(STREAM))
    text, finishes = ask_stream(client)
    assert (text, finishes) == (STREAM_TEXT, ["stop"])
    assert called(upstream) == ["a", "b"]


def test_a_refused_connection_moves_on_and_a_timeout_everywhere_is_a_504(
    upstream: Emulator, client: openai.OpenAI
) -> None:
    upstream.queue(json_reply(OK))
    assert ask(client, DEEPSEEK.id).choices[0].message.content == OK_TEXT  # the first deployment refuses
    upstream.queue(replace(json_reply(OK), delay_s=SLOW_FIRST_BYTE_S))
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, DEEPSEEK.id)
    assert caught.value.status_code == 504
    assert caught.value.body["code"] == "upstream_timeout"  # type: ignore[index]


def test_a_connect_timeout_moves_on_quickly(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(json_reply(OK), sse_reply(STREAM))
    started = time.monotonic()
    assert ask(client, GROK.id).choices[0].message.content == OK_TEXT
    assert ask_stream(client, GROK.id) == (STREAM_TEXT, ["stop"])
    assert time.monotonic() - started < 2.0  # two connect timeouts of 0.3 s, then answers
    assert called(upstream) == ["x", "x"]


def test_when_every_deployment_fails_the_fallback_model_answers(
    server: Server, account: tuple[str, int], upstream: Emulator, client: openai.OpenAI
) -> None:
    upstream.queue(json_reply(FAIL, status=500), json_reply(FAIL, status=503))
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    before = server.balance(account[1])
    r = ask(client)
    assert called(upstream) == ["a", "b", "c"]
    assert upstream.last.path == "/c/v1/messages"
    assert upstream.last.headers["x-api-key"] == "key-c"
    assert upstream.last.body["model"] == "claude-sonnet-4-5"
    assert r.model == "claude-sonnet-4-5-20250929"  # says who answered
    assert r.choices[0].message.content == "Hi! My name is Claude."
    credits = GPT.price.cost(2095, 503)  # billed at the requested model's price
    assert r.model_dump()["meta"]["usage"]["credits_used"] == credits
    assert server.balance(account[1]) == before - credits


def test_a_stream_falls_back_to_another_model_too(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(json_reply(FAIL, status=502), sse_reply(EVENTS[0], end="reset"))
    upstream.queue(sse_reply(fixture("anthropic/stream_basic.sse")))
    text, finishes = ask_stream(client)
    assert called(upstream) == ["a", "b", "c"]
    assert text.startswith("Hello")
    assert finishes == ["stop"]


@pytest.mark.parametrize(
    ("replies", "error", "status"),
    [
        ((json_reply(FAIL, status=500), json_reply(FAIL, status=500)), openai.InternalServerError, 502),
        ((json_reply(FAIL, status=500), json_reply(FAIL, status=503)), openai.InternalServerError, 503),
        ((json_reply(RATE, status=429), json_reply(RATE, status=429)), openai.RateLimitError, 429),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_when_everything_fails_the_client_gets_a_clear_error(
    upstream: Emulator,
    client: openai.OpenAI,
    replies: tuple[Reply, ...],
    error: type[openai.APIStatusError],
    status: int,
    stream: bool,
) -> None:
    upstream.queue(*replies)
    with pytest.raises(error) as caught:
        ask_stream(client, MINI.id) if stream else ask(client, MINI.id)  # no fallback for this model
    assert caught.value.status_code == status
    assert called(upstream) == ["a", "b"]


def test_a_client_error_is_not_retried(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(json_reply(fixture_json("openai/error_bad_request.json"), status=400), json_reply(OK))
    with pytest.raises(openai.BadRequestError):
        ask(client)
    assert called(upstream) == ["a"]


def test_a_single_deployment_is_retried_after_a_backoff(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(json_reply(FAIL, status=500), json_reply(OK))
    assert ask(client, MISTRAL.id).choices[0].message.content == OK_TEXT
    assert called(upstream) == ["m", "m"]


@pytest.mark.parametrize("end", ["truncate", "reset", "eof"])
def test_after_the_first_byte_a_cut_stream_is_an_error_and_is_not_retried(
    server: Server, account: tuple[str, int], upstream: Emulator, client: openai.OpenAI, end: Any
) -> None:
    upstream.queue(sse_reply(b"".join(EVENTS[:3]), end=end), sse_reply(STREAM))
    stream = client.chat.completions.create(model=GPT.id, messages=[{"role": "user", "content": "Hello"}], stream=True)
    text, finishes = "", []

    def read() -> None:
        nonlocal text
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finishes.extend([choice.finish_reason] if choice.finish_reason else [])

    with pytest.raises(openai.APIError, match=r"broke off|ended before"):
        read()
    assert (text, finishes) == ("Hello!", [])  # never a truncated answer marked stop
    assert called(upstream) == ["a"]  # and no second attempt once bytes reached the client
    model, _, completion, credits, status = server.usage_rows(account[1])[-1]
    assert (model, completion, status) == (GPT.id, 2, "error")
    assert credits > 0  # what was generated is paid for


def test_a_client_that_leaves_closes_the_routed_upstream_and_pays_what_was_generated(
    server: Server, account: tuple[str, int], upstream: Emulator, client: openai.OpenAI
) -> None:
    rows = len(server.usage_rows(account[1]))
    upstream.queue(json_reply(FAIL, status=500), sse_reply(b"".join(EVENTS[:3]), end="hang"))
    stream = client.chat.completions.create(model=GPT.id, messages=[{"role": "user", "content": "Hello"}], stream=True)
    chunks = iter(stream)
    first = next(chunks)  # relayed or not, the role opens the choice in its first chunk
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == "Hello"
    left_at = time.monotonic()
    stream.close()
    while upstream.disconnected_at is None and time.monotonic() - left_at < 5:
        time.sleep(0.01)
    assert upstream.disconnected_at is not None
    assert 0 <= upstream.disconnected_at - left_at < 1.0
    assert called(upstream) == ["a", "b"]
    while len(server.usage_rows(account[1])) == rows and time.monotonic() - left_at < 5:
        time.sleep(0.01)
    model, _, completion, credits, status = server.usage_rows(account[1])[-1]
    assert (model, status) == (GPT.id, "cancelled")
    assert completion >= 1
    assert credits > 0


def test_a_client_that_gives_up_on_a_completion_cancels_the_upstream_request(
    server: Server, account: tuple[str, int], upstream: Emulator, client: openai.OpenAI
) -> None:
    rows = len(server.usage_rows(account[1]))
    upstream.queue(replace(json_reply(OK), delay_s=30.0))
    body = {"model": MISTRAL.id, "messages": [{"role": "user", "content": "Hello"}]}
    headers = {"Authorization": f"Bearer {account[0]}"}
    with pytest.raises(httpx2.TimeoutException):
        httpx2.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=0.5)
    left_at = time.monotonic()
    while upstream.disconnected_at is None and time.monotonic() - left_at < 5:
        time.sleep(0.01)
    assert upstream.disconnected_at is not None
    assert upstream.disconnected_at - left_at < 1.0
    assert called(upstream) == ["m"]  # a cancelled request is not retried
    while len(server.usage_rows(account[1])) == rows and time.monotonic() - left_at < 5:
        time.sleep(0.01)
    model, prompt, completion, credits, status = server.usage_rows(account[1])[-1]
    assert (model, completion, status) == (MISTRAL.id, 0, "cancelled")
    assert prompt > 0  # the prompt was read upstream: it is paid for
    assert credits > 0


# ---- configuration -----------------------------------------------------------------------------


def test_deployments_inherit_what_they_leave_out_and_unconfigured_ones_are_skipped() -> None:
    env = {"OPENAI_API_KEY": "primary", "OPENAI_API_KEY_2": "second"}
    deployments = [
        {},
        {"api_key_env": "OPENAI_API_KEY_2"},
        {"api_key_env": "OPENAI_API_KEY_3"},  # not set: skipped with a warning
        {"base_url": "http://eu.example/v1/", "api_key": "third", "total_timeout_s": 9},
    ]
    tables = {"openai": {"first_byte_timeout_s": 5, "deployments": deployments}}
    got = load_deployments(env, tables)
    assert [(d.api_key, d.base_url, d.timeouts.first_byte_s, d.timeouts.total_s) for d in got["openai"]] == [
        ("primary", "https://api.openai.com/v1", 5.0, 600.0),
        ("second", "https://api.openai.com/v1", 5.0, 600.0),
        ("third", "http://eu.example/v1", 5.0, 9.0),
    ]
    assert got["anthropic"] == []  # no key: no deployment
    assert [d.api_key for d in load_deployments({"XAI_API_KEY": "k"}, {})["xai"]] == ["k"]
    with pytest.raises(ValueError, match="unknown"):
        load_deployments({}, {"openai": {"deployments": [{"api_kye": "typo"}]}})


def _settings(**changes: Any) -> Settings:
    off = Settings(local=LocalModelSettings(enabled=False), embeddings=EmbeddingModelSettings(enabled=False))
    return replace(off, **changes)


def test_routers_for_configured_providers_and_fallbacks_checked_at_start() -> None:
    tables: dict[str, dict[str, Any]] = {
        "openai": {"deployments": [{"api_key": "a"}, {"api_key": "b"}]},
        "mistral": {"deployments": [{}]},
    }
    settings = _settings(
        provider_env={"ANTHROPIC_API_KEY": "k"},
        providers=tables,
        routing={"retries": 2, "fallbacks": {GPT.id: [CLAUDE.id]}},
    )
    _, services = build_providers(settings, models=MODELS)
    openai_router = services["openai"].capabilities.chat
    assert isinstance(openai_router, Router)
    assert [d.label for d in openai_router.deployments] == ["openai#0", "openai#1"]
    assert openai_router.routes.retry.retries == 2
    assert openai_router.routes.fallbacks == {GPT.id: (CLAUDE,)}
    assert isinstance(services["openai"].capabilities.embeddings, RoutedEmbedder)  # over the same adapters
    assert isinstance(services["anthropic"].capabilities.chat, Router)
    # Listed, but no key anywhere: answers 503 naming what to set, for every modality it declares.
    assert services["mistral"].missing == "MISTRAL_API_KEY"
    with pytest.raises(ProviderNotConfigured, match="MISTRAL_API_KEY"):
        services.embedder("mistral")
    assert services["gemini"].missing == "GEMINI_API_KEY"
    with pytest.raises(ProviderNotConfigured, match="GEMINI_API_KEY"):
        services.chat("gemini")
    with pytest.raises(ValueError, match="nope"):
        build_providers(_settings(routing={"fallbacks": {GPT.id: ["nope"]}}), models=MODELS)
    with pytest.raises(ValueError, match="unknown"):
        RoutingConfig.from_table({"retry": 1})


def test_the_app_builds_routes_from_its_settings_and_falls_back_to_a_builtin_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = replace(
        fake_settings(tmp_path, management_key="mk-test"),
        providers={"openai": {"api_key": "k", "base_url": f"http://127.0.0.1:{closed_port()}/v1"}},
        routing={"retries": 0, "fallbacks": {"gpt-4o": [FAKE_MODEL_ID]}},
    )
    running = Server(settings).start()
    try:
        key, _ = running.new_key(credits=10_000_000)
        with openai.OpenAI(base_url=f"{running.url}/v1", api_key=key, max_retries=0, timeout=30) as client:
            r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "echo this"}])
        assert r.choices[0].message.content == "echo this"
        assert r.model == "echo-1"
    finally:
        running.stop()
