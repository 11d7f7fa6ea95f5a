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

The metrics live in one registry per process. With several worker processes each one counts its
own requests: scrape each worker, or run one process per port (a documented limitation).
"""

from __future__ import annotations

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
)

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "STREAMS_IN_FLIGHT",
    "exposition",
    "observe_model_call",
    "observe_request",
    "observe_upstream_error",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The ``*_created`` series double the exposition and say nothing a restart-aware ``rate()`` needs.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

REQUESTS = Counter(
    "unigate_requests", "HTTP requests answered, by route pattern and status.", ["route", "status"], registry=REGISTRY
)
DURATION = Histogram(
    "unigate_request_duration_seconds",
    "Time from a request's arrival to the end of its answer (the whole stream for streams).",
    ["route"],
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
MODEL_REQUESTS = Counter(
    "unigate_model_requests",
    "Model calls settled, by model and outcome (ok, error, cancelled).",
    ["model", "status"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "unigate_tokens", "Tokens, by model and kind (prompt, completion).", ["model", "kind"], registry=REGISTRY
)
CREDITS = Counter("unigate_credits", "Credits charged (1 USD = 2,000,000), by model.", ["model"], registry=REGISTRY)
UPSTREAM_ERRORS = Counter(
    "unigate_upstream_errors",
    "Failed provider calls, by provider and error code.",
    ["provider", "code"],
    registry=REGISTRY,
)
STREAMS_IN_FLIGHT = Gauge("unigate_streams_in_flight", "Streamed answers in progress.", registry=REGISTRY)


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
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)
