"""OpenTelemetry traces through the whole gateway: a chat request that failed on one deployment,
was retried on the next, and fell back to another model shows every step in order, as children
of a server span that continues the caller's ``traceparent``, each upstream attempt its own
client span whose id went upstream in ``traceparent``; the settlement carries the credits; no
key and no prompt in any attribute. Once end to end: the SDK exports over OTLP/HTTP to a receiver
the test starts, configured from the ``OTEL_*`` variables as an operator would."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.providers.emulators import Emulator, EmulatorThread, fixture, fixture_json, json_reply, sse_reply
from tests.providers.test_routing import CLAUDE, FAIL, GPT, MODELS
from tests.serving import Server, fake_settings
from unigate.observability import tracing
from unigate.settings import load_settings
from unigate.settings.tracing import tracing_settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
PROMPT = "Tell me a secret about the weather"
TRACECONTEXT = "opentelemetry.trace.propagation.tracecontext"
ATTEMPTS = ["chat openai/gpt-4o", "chat openai/gpt-4o", "chat anthropic/claude-sonnet-4.5"]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tables: dict[str, dict[str, Any]] = {
        "openai": {
            "deployments": [
                {"base_url": f"{upstream.url}/a/v1", "api_key": "key-a"},
                {"base_url": f"{upstream.url}/b/v1", "api_key": "key-b"},
            ]
        },
        "anthropic": {"base_url": f"{upstream.url}/c", "api_key": "key-c"},
    }
    routing = {"retries": 1, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "fallbacks": {GPT.id: [CLAUDE.id]}}
    settings = fake_settings(
        tmp_path_factory.mktemp("tracing"), providers=tables, routing=routing, default_rpm=1000, management_key="mk"
    )
    running = Server(settings, models=MODELS).start()
    yield running
    running.stop()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.uninstall()
        provider.shutdown()


def _finished(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    """The spans once the server span is among them (a stream's ends just after its last byte)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = list(exporter.get_finished_spans())
        if any(s.name == name and s.kind is SpanKind.SERVER for s in found):
            return found
        time.sleep(0.01)
    raise AssertionError(f"no server span {name!r}")


def _children(found: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    kids = [s for s in found if s.parent is not None and s.parent.span_id == parent.context.span_id]
    return sorted(kids, key=lambda s: s.start_time or 0)


def _check_trace(exporter: InMemorySpanExporter, upstream: Emulator, key: str, account: int, stream: bool) -> None:
    found = _finished(exporter, "POST /v1/chat/completions")
    (root,) = [s for s in found if s.kind is SpanKind.SERVER]
    assert root.context is not None
    assert root.parent is not None
    assert f"{root.context.trace_id:032x}" == TRACE_ID  # the caller's trace goes on
    assert f"{root.parent.span_id:016x}" == PARENT_ID
    steps = _children(found, root)
    middle = ["unigate.stream"] if stream else []
    assert [s.name for s in steps] == [
        "unigate.authenticate",
        "unigate.rate_limit",
        "unigate.reserve",
        *ATTEMPTS,
        *middle,
        "unigate.settle",
    ]
    attempts = [s for s in steps if s.name.startswith("chat ")]
    assert [s.kind for s in attempts] == [SpanKind.CLIENT] * 3
    assert [s.attributes and s.attributes["unigate.deployment"] for s in attempts] == [
        "openai#0",
        "openai#1",
        "anthropic#0",
    ]
    assert [s.attributes and s.attributes["unigate.fallback"] for s in attempts] == [False, False, True]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert [s.attributes and s.attributes.get("error.type") for s in attempts] == [
        "upstream_error",
        "upstream_overloaded",
        None,
    ]
    assert attempts[2].attributes
    assert attempts[2].attributes["gen_ai.system"] == "anthropic"
    # Each upstream request carried the traceparent of its own attempt.
    sent = [r.headers["traceparent"] for r in upstream.requests]
    assert sent == [f"00-{TRACE_ID}-{s.context.span_id:016x}-01" for s in attempts if s.context is not None]
    settle = steps[-1].attributes or {}
    attrs = root.attributes or {}
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == GPT.id
    assert attrs["unigate.account_id"] == account
    assert key.startswith(str(attrs["unigate.key_prefix"]))
    assert len(str(attrs["unigate.key_prefix"])) < len(key)
    assert attrs["http.response.status_code"] == 200
    credits = attrs["unigate.credits"]
    assert isinstance(credits, int)
    assert credits > 0
    assert settle["unigate.credits"] == credits
    assert settle["unigate.status"] == "ok"
    tokens = [attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]]
    assert all(isinstance(t, int) and t > 0 for t in tokens)
    values = " ".join(str(v) for s in found for v in (s.attributes or {}).values())
    assert key not in values
    assert PROMPT not in values
    assert "key-a" not in values


def test_a_retried_and_fallen_back_completion_shows_every_step_in_order(
    server: Server, upstream: Emulator, spans: InMemorySpanExporter
) -> None:
    key, account = server.new_key(credits=100_000_000)
    upstream.requests.clear()
    upstream.queue(json_reply(FAIL, status=500), json_reply(FAIL, status=503))
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30) as client:
        r = client.chat.completions.create(
            model=GPT.id, messages=[{"role": "user", "content": PROMPT}], extra_headers={"traceparent": TRACEPARENT}
        )
    assert r.model_dump()["meta"]["usage"]["credits_used"] > 0
    _check_trace(spans, upstream, key, account, stream=False)
    (root,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert root.attributes
    assert root.attributes["unigate.credits"] == r.model_dump()["meta"]["usage"]["credits_used"]


def test_a_stream_has_its_attempts_the_stream_and_the_settlement(
    server: Server, upstream: Emulator, spans: InMemorySpanExporter
) -> None:
    key, account = server.new_key(credits=100_000_000)
    upstream.requests.clear()
    upstream.queue(json_reply(FAIL, status=500), json_reply(FAIL, status=503))
    upstream.queue(sse_reply(fixture("anthropic/stream_basic.sse")))
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30) as client:
        stream = client.chat.completions.create(
            model=GPT.id,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            extra_headers={"traceparent": TRACEPARENT},
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("Hello")
    _check_trace(spans, upstream, key, account, stream=True)


def test_tracing_off_sends_no_traceparent_and_imports_nothing_of_opentelemetry(
    server: Server, upstream: Emulator
) -> None:
    key, _ = server.new_key(credits=100_000_000)
    upstream.requests.clear()
    upstream.queue(json_reply(fixture_json("openai/gpt4o_vision.json")))
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30) as client:
        client.chat.completions.create(model=GPT.id, messages=[{"role": "user", "content": "Hi"}])
    assert "traceparent" not in upstream.last.headers
    # What tracing would import (redis-py imports the API and the SDK's metrics itself when they
    # are installed: its own optional instrumentation, not ours).
    ours = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.proto", TRACECONTEXT)
    code = f"import sys, unigate.app; print(sorted(m for m in sys.modules if m.startswith({ours!r})))"
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # the off path costs no import at start-up


def test_the_otel_variables_are_read_by_the_settings() -> None:
    assert not tracing_settings({}).enabled
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=abc%3D,other=1",
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=gw,deployment.environment=prod",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
    }
    s = load_settings(env=env).tracing
    assert s.endpoint == "http://collector:4318/v1/traces"
    assert s.headers == {"x-honeycomb-team": "abc=", "other": "1"}
    assert (s.service_name, s.resource_attributes) == ("gw", {"deployment.environment": "prod"})
    assert (s.sampler, s.sampler_arg, s.timeout_s) == ("parentbased_traceidratio", 0.25, 2.5)
    traces = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4318/custom", **env}
    assert tracing_settings(traces).endpoint == "http://t:4318/custom"  # used as is
    assert not tracing_settings({**env, "OTEL_SDK_DISABLED": "true"}).enabled
    assert not tracing_settings({**env, "OTEL_TRACES_EXPORTER": "none"}).enabled
    with pytest.raises(ValueError, match="http/protobuf"):
        tracing_settings({**env, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


class Receiver:
    """A collector in miniature: accepts ``POST /v1/traces`` (OTLP/HTTP protobuf) on its own loop."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _traces(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        self.bodies.append(await request.read())
        return web.Response(body=b"", content_type="application/x-protobuf")  # an empty ExportTraceServiceResponse

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


def test_spans_are_exported_over_otlp_http_to_the_configured_endpoint(upstream: Emulator, tmp_path: Path) -> None:
    upstream.requests.clear()
    upstream.queue(json_reply(fixture_json("openai/gpt4o_vision.json")))
    tables = {"openai": {"base_url": f"{upstream.url}/a/v1", "api_key": "key-a"}}
    with Receiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "unigate-e2e"}
        settings = fake_settings(tmp_path, tracing=tracing_settings(env), management_key="mk", providers=tables)
        server = Server(settings, models=MODELS).start()
        try:
            key, _ = server.new_key(credits=100_000_000)
            with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30) as client:
                r = client.chat.completions.create(
                    model=GPT.id,
                    messages=[{"role": "user", "content": PROMPT}],
                    extra_headers={"traceparent": TRACEPARENT},
                )
            assert r.choices[0].message.content
        finally:
            server.stop()  # flushes the batch: the exporter posts before the app is gone
        assert tracing._tracer is None  # off again once the app has stopped
    assert receiver.bodies
    spans: dict[str, Any] = {}
    services = set()
    for body in receiver.bodies:
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"}
            for scope in resource_spans.scope_spans:
                spans.update({s.name: s for s in scope.spans})
    assert services == {"unigate-e2e"}
    root = spans["POST /v1/chat/completions"]
    assert root.trace_id.hex() == TRACE_ID
    assert root.parent_span_id.hex() == PARENT_ID
    for name in ("unigate.authenticate", "unigate.reserve", f"chat {GPT.id}", "unigate.settle"):
        assert spans[name].trace_id.hex() == TRACE_ID
        assert spans[name].parent_span_id == root.span_id
    assert upstream.last.headers["traceparent"] == f"00-{TRACE_ID}-{spans[f'chat {GPT.id}'].span_id.hex()}-01"
    attrs = {a.key: a.value for a in root.attributes}
    assert attrs["gen_ai.request.model"].string_value == GPT.id
    assert attrs["unigate.credits"].int_value == r.model_dump()["meta"]["usage"]["credits_used"]
