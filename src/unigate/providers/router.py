"""Routing: a ``Provider`` in front of several deployments of one provider, with retries, circuit
breakers and model fallbacks. The gateway sees one provider per name and needs no change.

A *deployment* is one configured adapter instance: its own key and base URL (``[providers.<name>]
deployments``, see ``config.py``), its own connection pool, and its own ``CircuitBreaker``. The
``Routes`` table holds the deployments of every provider and the model fallbacks; each ``Router``
serves one provider name from it.

A request for model *M* tries, in order, *M*'s deployments, then the deployments of each fallback
model of *M* (``[routing.fallbacks]``) that can serve the request (it accepts the parameters and
content the client sent, and its provider's ``check`` passes). A deployment whose breaker is open
is skipped. A retryable failure (``retry.py``) counts against the breaker and moves on to the
next candidate at once; coming back to a deployment already tried waits a backoff first. Every
candidate gets one attempt; with fewer candidates than ``retries + 1`` they are walked again.
When every attempt failed, the last error is raised (its status tells what went wrong: 429, 502,
503, 504); when every breaker is open, ``Overloaded`` with the seconds until one half-opens.

**First byte.** Retries happen only while nothing has reached the client. For ``complete`` that
is until the result is returned. For ``stream``, the router holds the ``StreamStart`` and pulls
from the deployment until its first ``ChoiceDelta`` or ``Passthrough`` (or the closing ``Usage`` of a stream without
any): only then is the stream committed to that deployment and passed on. The API handler sends
no byte before the first delta either (``api/openai/chat/handler.py``), so a failure before it still gets
its HTTP status. After it, a failure propagates and the handler ends the stream with an error
event, never with ``finish_reason: "stop"``.

**Billing.** The gateway reserved credits for the requested model and settles at its price, with
the token counts the answering deployment reports, whichever model that was (capped at the
reservation, as always). A fallback never changes what the client pays per token; the response's
``model`` names the model that actually answered.

**Cancellation.** The deployment's stream is iterated inside ``aclosing``: when the client leaves
(the gateway closes this stream, or cancels the task), the deployment's stream is closed at once,
which closes its upstream connection. Breakers learn nothing from a request that ended that way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import cast

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, Dialect, FilePart, ImagePart
from unigate.core.provider import DialectSpeaker, Provider, TokenCounter
from unigate.core.results import (
    ChatResult,
    ChoiceDelta,
    MoreBuffered,
    Passthrough,
    StreamEvent,
    StreamStart,
    Usage,
)
from unigate.errors import GatewayError, Overloaded, UpstreamError
from unigate.observability import tracing
from unigate.primitives.records import record
from unigate.providers.breaker import CircuitBreaker
from unigate.providers.retry import RetryPolicy, retry_after_s, retryable

__all__ = ["Candidate", "Deployment", "Router", "Routes"]

log = logging.getLogger("unigate.routing")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(eq=False, slots=True)
class Deployment:
    label: str
    """``openai#0``, ``openai#1``...: for logs; never the key or URL."""
    provider: Provider
    breaker: CircuitBreaker


@record
class Candidate:
    """One deployment asked for one model: the requested one, or a fallback."""

    deployment: Deployment
    spec: ModelSpec


def _generator(events: AsyncIterator[StreamEvent]) -> AsyncGenerator[StreamEvent, None]:
    """Every provider's ``stream`` is an async generator; the protocol only promises an iterator
    that stops its upstream work when closed (``Provider``)."""
    return cast("AsyncGenerator[StreamEvent, None]", events)


def _serves(request: ChatRequest, spec: ModelSpec, provider: Provider) -> bool:
    """Whether a fallback model accepts this request as the gateway would check it."""
    if not request.requested <= spec.params:
        return False
    for message in request.messages:
        for part in message.content:
            kind = "image" if isinstance(part, ImagePart) else "file" if isinstance(part, FilePart) else "text"
            if kind not in spec.input_modalities:
                return False
    try:
        provider.check(request, spec)
    except GatewayError:
        return False
    return True


class Routes:
    """The deployments of every routed provider, the model fallbacks, and the retry policy."""

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        breaker_failures: int = 5,
        breaker_cooldown_s: float = 30.0,
        fallbacks: Mapping[str, Sequence[ModelSpec]] | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.breaker_failures = breaker_failures
        self.breaker_cooldown_s = breaker_cooldown_s
        self.fallbacks: dict[str, tuple[ModelSpec, ...]] = {k: tuple(v) for k, v in (fallbacks or {}).items()}
        """Fallback models by the requested model's id, in order."""
        self.sleep = sleep
        self.clock = clock
        self.deployments: dict[str, tuple[Deployment, ...]] = {}

    def add(self, name: str, providers: Sequence[Provider]) -> tuple[Deployment, ...]:
        """Register ``name``'s deployments (one provider instance each), each with a fresh breaker."""
        if not providers:
            raise ValueError(f"provider {name!r} needs at least one deployment")
        self.deployments[name] = tuple(
            Deployment(
                f"{name}#{i}",
                p,
                CircuitBreaker(failures=self.breaker_failures, cooldown_s=self.breaker_cooldown_s, clock=self.clock),
            )
            for i, p in enumerate(providers)
        )
        return self.deployments[name]

    def router(self, name: str, providers: Sequence[Provider]) -> Router:
        """Register ``name``'s deployments and return the provider that serves them."""
        self.add(name, providers)
        return Router(name, self)

    def candidates(self, request: ChatRequest, model: ModelSpec) -> list[Candidate]:
        out = [Candidate(d, model) for d in self.deployments.get(model.provider, ())]
        for spec in self.fallbacks.get(model.id, ()):
            deployments = self.deployments.get(spec.provider, ())
            if deployments and _serves(request, spec, deployments[0].provider):
                out.extend(Candidate(d, spec) for d in deployments)
        return out


@dataclass(slots=True)
class _Plan:
    """The attempts of one request: which candidate next, after how long, and when to give up."""

    routes: Routes
    model: ModelSpec
    candidates: list[Candidate]
    made: int = 0
    position: int = 0
    tries: dict[int, int] = field(default_factory=dict)
    retry_after: dict[int, float | None] = field(default_factory=dict)
    given_up: set[int] = field(default_factory=set)
    last: GatewayError | None = None

    @property
    def budget(self) -> int:
        return max(len(self.candidates), self.routes.retry.retries + 1)

    def _pick(self) -> int | None:
        for offset in range(len(self.candidates)):
            i = (self.position + offset) % len(self.candidates)
            if i not in self.given_up and self.candidates[i].deployment.breaker.allow():
                return i
        return None

    async def next(self) -> Candidate:
        """The candidate to try now (its breaker slot taken), or raise why there is none."""
        i = self._pick() if self.made < self.budget else None
        if i is None:
            raise self.last or self._unavailable()
        candidate = self.candidates[i]
        tried = self.tries.get(i, 0)
        if tried:
            wait = self.routes.retry.backoff_s(tried, retry_after=self.retry_after.get(i))
            try:
                await self.routes.sleep(wait or 0.0)
            except BaseException:
                candidate.deployment.breaker.release()
                raise
        self.position, self.made, self.tries[i] = i + 1, self.made + 1, tried + 1
        return candidate

    def failed(self, candidate: Candidate, exc: GatewayError) -> None:
        """Count a failure before the first byte; re-raise it when another attempt cannot help."""
        breaker = candidate.deployment.breaker
        if not retryable(exc):
            breaker.release()
            raise exc
        breaker.failure()
        i = self.candidates.index(candidate)
        after = retry_after_s(exc)
        self.retry_after[i] = after
        if self.routes.retry.backoff_s(1, retry_after=after) is None:
            self.given_up.add(i)
        self.last = exc
        log.warning(
            "%s failed for %s: %s %s (%s); breaker %s",
            candidate.deployment.label,
            candidate.spec.id,
            exc.status,
            exc.code,
            type(exc).__name__,
            breaker.state,
        )

    def _unavailable(self) -> Overloaded:
        waits = [c.deployment.breaker.retry_after_s() for c in self.candidates] or [0.0]
        seconds = max(1, round(min(waits)))
        return Overloaded(
            f"Every upstream of the model {self.model.id!r} is failing; try again in {seconds} s.",
            code="upstream_unavailable",
            headers={"Retry-After": str(seconds)},
        )


class Router:
    """The ``Provider`` registered under one provider name: its deployments, with retries,
    breakers and the fallbacks of the requested model (see the module docstring)."""

    def __init__(self, name: str, routes: Routes) -> None:
        self.name = name
        self.routes = routes

    @property
    def deployments(self) -> tuple[Deployment, ...]:
        return self.routes.deployments[self.name]

    async def start(self) -> None:
        for d in self.deployments:
            await d.provider.start()

    async def close(self) -> None:
        for d in reversed(self.deployments):
            await d.provider.close()

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        self.deployments[0].provider.check(request, model)  # every deployment runs the same adapter

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return self.deployments[0].provider.estimate_prompt_tokens(request, model)

    def speaks(self, request: ChatRequest, model: ModelSpec) -> Dialect | None:
        first = self.deployments[0].provider
        return first.speaks(request, model) if isinstance(first, DialectSpeaker) else None

    async def count_tokens(self, request: ChatRequest, model: ModelSpec) -> int | None:
        """The first deployment's exact count, when its adapter can count (``TokenCounter``)."""
        provider = self.deployments[0].provider
        return await provider.count_tokens(request, model) if isinstance(provider, TokenCounter) else None

    def _plan(self, request: ChatRequest, model: ModelSpec) -> _Plan:
        return _Plan(self.routes, model, self.routes.candidates(request, model))

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        plan = self._plan(request, model)
        while True:
            candidate = await plan.next()
            breaker = candidate.deployment.breaker
            with _attempt(plan, candidate) as step:
                try:
                    result = await candidate.deployment.provider.complete(request, candidate.spec)
                except GatewayError as exc:
                    step.fail(exc)
                    plan.failed(candidate, exc)
                    continue
                except BaseException:
                    breaker.release()
                    raise
                breaker.success()
                step.set("gen_ai.response.model", result.model)
                step.set("gen_ai.usage.input_tokens", result.usage.prompt_tokens)
                step.set("gen_ai.usage.output_tokens", result.usage.completion_tokens)
                return result

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        plan = self._plan(request, model)
        while True:
            candidate = await plan.next()
            breaker = candidate.deployment.breaker
            step = _attempt(plan, candidate)  # current only while pulling: no context crosses a yield
            try:
                upstream = _generator(candidate.deployment.provider.stream(request, candidate.spec))
                async with aclosing(upstream) as events:
                    held: list[StreamEvent] = []
                    try:
                        with step.active():  # the upstream request carries this attempt's traceparent
                            async for event in events:
                                held.append(event)
                                if isinstance(event, ChoiceDelta | Passthrough | Usage):
                                    break  # the first byte for the client: committed to this deployment
                        if not held or isinstance(held[-1], StreamStart | MoreBuffered):
                            raise UpstreamError(
                                f"The {candidate.spec.provider} provider's stream ended without an answer."
                            )
                    except GatewayError as exc:
                        step.fail(exc)
                        plan.failed(candidate, exc)
                        continue
                    except BaseException as exc:
                        step.fail(exc)
                        breaker.release()
                        raise
                    try:
                        for event in held:
                            yield event
                        async for event in events:
                            yield event
                    except GatewayError as exc:
                        # After the first byte: no retry; the gateway ends the stream with this error.
                        step.fail(exc)
                        if retryable(exc):
                            breaker.failure()
                        else:
                            breaker.release()
                        raise
                    except BaseException as exc:
                        step.fail(exc)
                        breaker.release()
                        raise
            finally:
                step.end()
            breaker.success()
            return


def _attempt(plan: _Plan, candidate: Candidate) -> tracing.Span:
    """The span of one upstream attempt (retries and fallbacks each have their own), named and
    described as the GenAI semantic conventions say (``{operation} {model}``, a client span)."""
    if not tracing.enabled():
        return tracing.NO_SPAN
    spec = candidate.spec
    attributes: dict[str, tracing.Value] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": spec.provider,
        "gen_ai.provider.name": spec.provider,  # the conventions' newer name for gen_ai.system
        "gen_ai.request.model": spec.id,
        "unigate.deployment": candidate.deployment.label,
        "unigate.attempt": plan.made,
        "unigate.fallback": spec.id != plan.model.id,
    }
    return tracing.span(f"chat {spec.id}", attributes, client=True)
