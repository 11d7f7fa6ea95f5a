"""The gateway's Prometheus metrics, served at ``GET /metrics`` in the text exposition format.

Names (``docs/console.md`` lists them with their labels)::

    unigate_requests_total{route,status}          HTTP requests answered
    unigate_request_duration_seconds{route}       time to the end of the answer (streams included)
    unigate_model_requests_total{model,status}    settled model calls: ok, error, cancelled
    unigate_tokens_total{model,kind}              prompt and completion tokens
    unigate_credits_total{model}                  credits charged
    unigate_upstream_errors_total{provider,code}  failed provider calls
    unigate_streams_in_flight                     streams being answered now

Labels are bounded: ``route`` is the route's pattern (``/v1/keys/{prefix}``, ``unmatched`` for
404s), ``model`` a catalog id, ``code`` an error code of ``errors.py``. The hot path resolves each
label combination once and keeps the child (``labels()`` takes a lock and builds a tuple per
call); a request then costs a dictionary lookup and a few locked increments.

One process keeps its metrics in memory. Under ``unigate serve --workers N`` the server calls
``share_between_processes`` before forking: every worker then counts in memory-mapped files of one
directory (prometheus-client's multiprocess mode) and ``/metrics``, whichever worker answers it,
sums the files of all of them, so a scrape sees the whole gateway. Counters and histograms of a
worker that stopped stay in the sum; its in-flight gauge leaves it (``process_stopped``, called
by the server). In that mode the ``process_*`` series are left out: they would describe only the
worker that answered the scrape. A scrape reads one small file per worker and metric type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROC_ENV",
    "REGISTRY",
    "STREAMS_IN_FLIGHT",
    "exposition",
    "observe_model_call",
    "observe_request",
    "observe_upstream_error",
    "process_stopped",
    "share_between_processes",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The ``*_created`` series double the exposition and say nothing a restart-aware ``rate()`` needs.
disable_created_metrics()  # type: ignore[no-untyped-call]
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where prometheus-client's multiprocess mode keeps its files; set, it is that mode."""

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _define(registry: CollectorRegistry) -> tuple[Counter, Histogram, Counter, Counter, Counter, Counter, Gauge]:
    """The gateway's metrics, registered in ``registry``. Their values are of prometheus-client's
    value class at the time of the call: in memory, or in the multiprocess directory."""
    return (
        Counter(
            "unigate_requests",
            "HTTP requests answered, by route pattern and status.",
            ["route", "status"],
            registry=registry,
        ),
        Histogram(
            "unigate_request_duration_seconds",
            "Time from a request's arrival to the end of its answer (the whole stream for streams).",
            ["route"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        ),
        Counter(
            "unigate_model_requests",
            "Model calls settled, by model and outcome (ok, error, cancelled).",
            ["model", "status"],
            registry=registry,
        ),
        Counter(
            "unigate_tokens", "Tokens, by model and kind (prompt, completion).", ["model", "kind"], registry=registry
        ),
        Counter("unigate_credits", "Credits charged (1 USD = 2,000,000), by model.", ["model"], registry=registry),
        Counter(
            "unigate_upstream_errors",
            "Failed provider calls, by provider and error code.",
            ["provider", "code"],
            registry=registry,
        ),
        # ``livesum``: the streams of the workers alive now (a stopped one's file is removed).
        Gauge(
            "unigate_streams_in_flight", "Streamed answers in progress.", registry=registry, multiprocess_mode="livesum"
        ),
    )


def _exposed(shared_dir: str | None) -> CollectorRegistry:
    """The registry ``/metrics`` renders: this process's, or the sum over the shared directory."""
    if shared_dir is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=shared_dir)  # type: ignore[no-untyped-call]
    PlatformCollector(registry=registry)
    return registry


REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
REQUESTS, DURATION, MODEL_REQUESTS, TOKENS, CREDITS, UPSTREAM_ERRORS, STREAMS_IN_FLIGHT = _define(REGISTRY)
_shared_dir = os.environ.get(MULTIPROC_ENV) or None
"""Set (by the operator, or by ``share_between_processes``): counting happens in that directory."""
_exposition_registry = _exposed(_shared_dir)


def share_between_processes(directory: str) -> None:
    """Count in files of ``directory`` from now on, for every process forked after this call; one
    fresh directory per server start (the files are named by process id, and add up). Called
    before the first request: the series counted so far in memory are dropped."""
    global _shared_dir, _exposition_registry, REGISTRY
    global REQUESTS, DURATION, MODEL_REQUESTS, TOKENS, CREDITS, UPSTREAM_ERRORS, STREAMS_IN_FLIGHT
    # This process's live gauge, made at import in the operator's directory if one was set there.
    process_stopped(os.getpid())
    os.environ[MULTIPROC_ENV] = directory
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _routes.clear()
    _models.clear()
    _outcomes.clear()
    REGISTRY = CollectorRegistry(auto_describe=True)
    REQUESTS, DURATION, MODEL_REQUESTS, TOKENS, CREDITS, UPSTREAM_ERRORS, STREAMS_IN_FLIGHT = _define(REGISTRY)
    _shared_dir = directory
    _exposition_registry = _exposed(directory)


def process_stopped(pid: int) -> None:
    """A worker ended: its live gauges leave the sum (its counters stay)."""
    if _shared_dir is not None:
        multiprocess.mark_process_dead(pid, _shared_dir)  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class _RouteChildren:
    requests: Counter
    duration: Histogram


@dataclass(frozen=True, slots=True)
class _ModelChildren:
    prompt: Counter
    completion: Counter
    credits: Counter


_routes: dict[tuple[str, int], _RouteChildren] = {}
_models: dict[str, _ModelChildren] = {}
_outcomes: dict[tuple[str, str], Counter] = {}


def observe_request(route: str, status: int, seconds: float) -> None:
    children = _routes.get((route, status))
    if children is None:
        children = _routes[(route, status)] = _RouteChildren(
            REQUESTS.labels(route, str(status)), DURATION.labels(route)
        )
    children.requests.inc()
    children.duration.observe(seconds)


def observe_model_call(model: str, *, prompt_tokens: int, completion_tokens: int, credits: int, status: str) -> None:
    children = _models.get(model)
    if children is None:
        children = _models[model] = _ModelChildren(
            TOKENS.labels(model, "prompt"), TOKENS.labels(model, "completion"), CREDITS.labels(model)
        )
    if prompt_tokens > 0:
        children.prompt.inc(prompt_tokens)
    if completion_tokens > 0:
        children.completion.inc(completion_tokens)
    if credits > 0:
        children.credits.inc(credits)
    outcome = _outcomes.get((model, status))
    if outcome is None:
        outcome = _outcomes[(model, status)] = MODEL_REQUESTS.labels(model, status)
    outcome.inc()


def observe_upstream_error(provider: str, code: str) -> None:
    UPSTREAM_ERRORS.labels(provider, code).inc()


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's summed."""
    return generate_latest(_exposition_registry)
