"""OpenTelemetry traces: one server span per request (continuing an incoming ``traceparent``),
child spans for authentication, rate limiting, reservation, each upstream attempt, the stream to
the client and settlement, and ``traceparent`` on every upstream request.

Off by default, and then free: nothing of OpenTelemetry is imported, ``span()`` returns one shared
no-op object, ``inject`` returns the headers it was given and ``traced`` methods call through
after one test of a global. ``install`` (``lifecycle`` from the settings, or a test with its own
``TracerProvider``) turns it on. Attributes follow the GenAI semantic conventions (``gen_ai.*``)
plus ours (``unigate.*``: credits, account, key prefix); never a key, never a prompt.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from unigate.settings.tracing import TracingSettings

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "NO_SPAN",
    "Span",
    "current",
    "enabled",
    "inject",
    "install",
    "lifecycle",
    "server_span",
    "span",
    "traced",
    "uninstall",
]

P = ParamSpec("P")
T = TypeVar("T")
Value = str | int | float | bool

_tracer: Any = None
"""The OpenTelemetry ``Tracer`` while tracing is on; ``None`` (the test on every path) when off."""
_otel: Any = None
"""The few OpenTelemetry functions the live path calls, imported by ``install``."""


class Span:
    """A span as the gateway sees it; this base class is the no-op one (tracing off)."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        return None

    def set(self, key: str, value: Value | None) -> None:
        """Set an attribute (``None`` is left out)."""

    def fail(self, exc: BaseException) -> None:
        """Mark the span failed with ``exc`` (its class and code, never its message)."""

    def end(self) -> None:
        """End a span opened with ``span()`` without ``with``."""

    def active(self) -> AbstractContextManager[None]:
        """Make this span the current one for a block, without ending it (the router's attempt
        span around the pulls from an upstream stream, so no context leaks across a ``yield``)."""
        return _NOTHING


NO_SPAN = Span()
_NOTHING: AbstractContextManager[None] = nullcontext()


class _Live(Span):
    __slots__ = ("_span", "_token")

    def __init__(self, otel_span: Any) -> None:
        self._span = otel_span
        self._token: object = None

    def __enter__(self) -> Span:
        self._token = _otel.attach(_otel.in_context(self._span))
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.fail(exc)
        self._span.end()
        _otel.detach(self._token)

    def set(self, key: str, value: Value | None) -> None:
        if value is not None:
            self._span.set_attribute(key, value)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            self._span.set_attribute("unigate.cancelled", True)  # the client left: not an error
            return
        code = getattr(exc, "code", None) or type(exc).__name__
        self._span.set_attribute("error.type", str(code))
        self._span.set_status(_otel.Status(_otel.ERROR, type(exc).__name__))

    def end(self) -> None:
        self._span.end()

    def active(self) -> AbstractContextManager[None]:
        return self._active()

    @contextmanager
    def _active(self) -> Iterator[None]:
        token = _otel.attach(_otel.in_context(self._span))
        try:
            yield
        finally:
            _otel.detach(token)


def span(name: str, attributes: Mapping[str, Value] | None = None, *, client: bool = False) -> Span:
    """A child of the current span; ``with`` makes it current and ends it. ``client``: it stands
    for a call to another service (an upstream attempt)."""
    if _tracer is None:
        return NO_SPAN
    kind = _otel.CLIENT if client else _otel.INTERNAL
    return _Live(_tracer.start_span(name, kind=kind, attributes=attributes))


def server_span(method: str, route: str, headers: Mapping[str, str]) -> Span:
    """The span of one HTTP request, continuing the trace of its ``traceparent`` if it has one."""
    if _tracer is None:
        return NO_SPAN
    parent = _otel.propagator.extract(headers)
    attributes = {"http.request.method": method, "http.route": route}
    return _Live(_tracer.start_span(f"{method} {route}", context=parent, kind=_otel.SERVER, attributes=attributes))


def enabled() -> bool:
    """Whether tracing is on (to skip building attributes nobody reads)."""
    return _tracer is not None


def current() -> Span:
    """The current span, to add attributes to (``NO_SPAN`` when tracing is off)."""
    if _tracer is None:
        return NO_SPAN
    return _Live(_otel.get_current_span())


def inject(headers: Mapping[str, str]) -> Mapping[str, str]:
    """``headers`` with the current span's ``traceparent`` (and ``tracestate``) added."""
    if _tracer is None:
        return headers
    carrier = dict(headers)
    _otel.propagator.inject(carrier)
    return carrier


def traced(name: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Run a coroutine function in a span called ``name`` while tracing is on."""

    def wrap(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            if _tracer is None:
                return await fn(*args, **kwargs)
            with span(name):
                return await fn(*args, **kwargs)

        return run

    return wrap


class _Otel:
    """The OpenTelemetry names the live path uses, bound once (imported only when tracing is on)."""

    def __init__(self) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.attach, self.detach = context.attach, context.detach
        self.in_context = trace.set_span_in_context
        self.get_current_span = trace.get_current_span
        self.Status, self.ERROR = trace.Status, trace.StatusCode.ERROR
        self.CLIENT, self.INTERNAL, self.SERVER = trace.SpanKind.CLIENT, trace.SpanKind.INTERNAL, trace.SpanKind.SERVER
        self.propagator = TraceContextTextMapPropagator()  # W3C traceparent/tracestate, as the issue asks


def install(provider: Any) -> None:
    """Trace through ``provider`` (an OpenTelemetry ``TracerProvider``) from now on."""
    global _tracer, _otel
    _otel = _Otel()
    _tracer = provider.get_tracer("unigate")


def uninstall() -> None:
    """Tracing off again (the provider is the caller's to shut down)."""
    global _tracer
    _tracer = None


def sdk_provider(settings: TracingSettings) -> Any:
    """The SDK's ``TracerProvider`` exporting over OTLP/HTTP in batches, as ``settings`` say."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider, sampling
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    samplers: dict[str, Callable[[], sampling.Sampler]] = {
        "always_on": lambda: sampling.ALWAYS_ON,
        "always_off": lambda: sampling.ALWAYS_OFF,
        "traceidratio": lambda: sampling.TraceIdRatioBased(settings.sampler_arg),
        "parentbased_always_on": lambda: sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": lambda: sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": lambda: sampling.ParentBased(sampling.TraceIdRatioBased(settings.sampler_arg)),
    }
    resource = Resource({**settings.resource_attributes, "service.name": settings.service_name})
    provider = TracerProvider(resource=resource, sampler=samplers[settings.sampler]())
    exporter = OTLPSpanExporter(endpoint=settings.endpoint, headers=settings.headers, timeout=settings.timeout_s)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def lifecycle(settings: TracingSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """The app's ``cleanup_ctx`` entry: tracing on for the app's life, the last spans flushed at
    the end (in each worker: its exporter thread is made after the fork)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        provider = sdk_provider(settings)
        install(provider)
        try:
            yield
        finally:
            uninstall()
            await asyncio.to_thread(provider.shutdown)  # flushes the batch: a blocking HTTP post

    return run
