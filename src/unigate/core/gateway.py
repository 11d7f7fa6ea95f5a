"""The request flow: check the key's scope, resolve the model, check it can honour the request,
admit it under the key's rate limits, reserve the worst-case credits (the key's spending limit
is checked in the same transaction), call the provider, settle to the actual cost in a ``finally``.

Settlement happens exactly once per request whatever ends it: success, a provider error, a
client that disconnects (the handler's task is cancelled), or a stream closed early. The store
makes a second settlement of the same reservation a no-op, and a process that dies holding a
reservation leaves it to expire (``Store.release_expired``); the reservations of requests still
running are in ``Gateway.held``, which the app extends periodically.

A settlement the store fails to take (its database is down: ``Store.failures``) does not fail the
request, whose answer exists and whose charge is known: it is kept in ``Gateway.unsettled``, its
reservation stays held (so it does not expire meanwhile), and the app's upkeep tries it again
(``retry_unsettled``) until the store takes it, and once more at shutdown. A settlement that
committed before its error was reported is not charged twice: the second one finds no
reservation. Only a process that dies with settlements still unsettled loses their amounts: their
reservations expire and are released as ``abandoned``.

``embed`` runs embedding requests through the same steps; ``complete`` and ``embed`` share one
settling call (``_settled``), ``stream`` settles in its own ``finally``. ``Services`` says what
serves a model; the limiter's decision goes into the caller's ``Admission`` (for the headers).
Admission, reservation and settlement are spans of the trace (``observability/tracing.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Protocol, TypeVar, cast

from unigate.accounts import scopes
from unigate.accounts.store import ApiKey, Refusal, Reservation, Settlement, Store
from unigate.catalog.catalog import Catalog
from unigate.catalog.spec import CREDITS_PER_USD, ModelSpec
from unigate.core import field_policy
from unigate.core.chat import ChatRequest, FilePart, ImagePart, TextPart
from unigate.core.embedder import Embedder
from unigate.core.embeddings import EmbeddingRequest, EmbeddingResult
from unigate.core.provider import Provider
from unigate.core.results import ChatResult, ChoiceDelta, Passthrough, StreamEvent, Usage
from unigate.core.services import Services
from unigate.errors import (
    AuthenticationError,
    GatewayError,
    InsufficientCredits,
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    SpendingLimitExceeded,
    UnsupportedContent,
    UnsupportedParameter,
)
from unigate.limits.window import Admission, RateLimiter, headers
from unigate.observability import events, tracing
from unigate.primitives.records import record

__all__ = ["MAX_BALANCE", "Call", "Charge", "Gateway", "authorize"]
log = logging.getLogger("unigate.gateway")

MAX_BALANCE = 2**63 - 1
"""The most credits a reservation can be: the ledger's integers are 64-bit, so no balance holds
more, and a larger worst case (a huge length at a unit price) is refused before the store."""


@record
class Charge:
    """What a request cost; reported as ``meta.usage``."""

    credits: int
    cache: bool | None = None  # whether a cached answer served it (meta.cache); None: not asked

    @property
    def usd(self) -> float:
        return self.credits / CREDITS_PER_USD


@record
class Call:
    """A request admitted and reserved for, until it is settled."""

    spec: ModelSpec
    reservation: Reservation
    prompt_estimate: int
    started: float


class _Metered(Protocol):
    @property
    def usage(self) -> Usage: ...


R = TypeVar("R", bound=_Metered)


class Gateway:
    def __init__(
        self,
        *,
        catalog: Catalog,
        services: Services,
        store: Store,
        reservation_ttl_s: float = 120.0,
        limiter: RateLimiter | None = None,
        default_rpm: int | None = None,
        default_tpm: int | None = None,
    ) -> None:
        self.catalog = catalog
        self.services = services
        """Every provider by name, and which object serves each modality (``providers/registry.py``)."""
        self.store = store
        self.reservation_ttl_s = reservation_ttl_s
        self.limiter = limiter
        self.default_rpm = default_rpm
        self.default_tpm = default_tpm
        self.held: set[str] = set()
        """Ids of the reservations of requests in progress in this process, and of those whose
        settlement waits in ``unsettled``."""
        self.unsettled: deque[tuple[Reservation, Settlement]] = deque()
        """Settlements the store failed to take, oldest first (see the module)."""

    def resolve(self, request: ChatRequest) -> tuple[ModelSpec, Provider]:
        """The model and its provider, after checking that they can honour ``request``."""
        spec = self.catalog.resolve(request.model)
        if spec.deprecated:
            # Listed (the seeds keep them in their tables) but no longer served, as OpenAI answers.
            raise ModelNotFound(
                f"The model {spec.id!r} has been deprecated and is no longer served. GET /models lists "
                "the current models.",
                param="model",
                code="model_deprecated",
            )
        if spec.type == "embedding":
            raise InvalidRequest(
                f"The model {spec.id!r} is an embedding model: use POST /v1/embeddings.",
                param="model",
                code="model_not_supported",
            )
        if request.web_search is not None and "web_search_options" not in spec.params:
            # Asked by the $web_search tool or web_search_options: the message names both.
            raise UnsupportedParameter(
                f"The model {spec.id!r} cannot search the web: it does not support the '$web_search' tool nor "
                "web_search_options. GET /models lists the models that do (gpt-4o-search-preview, perplexity/sonar, "
                "moonshot/kimi-k2-...).",
                param="web_search_options" if "web_search_options" in request.requested else "tools",
            )
        unsupported = sorted(request.requested - spec.params)
        if unsupported:
            raise UnsupportedParameter(
                f"The model {spec.id!r} does not support the parameter {unsupported[0]!r}.",
                param=unsupported[0],
            )
        reads_text = "text" in spec.input_modalities
        for i, message in enumerate(request.messages):
            for j, part in enumerate(message.content):
                if reads_text and type(part) is TextPart:
                    continue  # the common case, checked first
                kind = "image" if isinstance(part, ImagePart) else "file" if isinstance(part, FilePart) else "text"
                if kind not in spec.input_modalities:
                    raise UnsupportedContent(
                        f"The model {spec.id!r} does not read {kind} content.",
                        param=f"messages[{i}].content[{j}]",
                    )
        provider = self.services.chat(spec.provider)
        if provider is None:
            raise UnsupportedParameter(f"The provider of {spec.id!r} is not configured.", param="model")
        field_policy.check(request, provider, spec)
        provider.check(request, spec)
        return spec, provider

    async def begin(
        self, request: ChatRequest, key: ApiKey, scope: str, admission: Admission | None
    ) -> tuple[Call, Provider]:
        """Every check and the worst-case reservation of ``request``, before its provider is
        called: the call to settle and the provider to call (``complete`` and ``stream`` go on
        from here; a background response calls and settles on its own, ``response_flow.py``)."""
        authorize(key, scope)
        events.chat_request(request.model, request.messages)
        spec, provider = self.resolve(request)
        prompt_estimate = provider.estimate_prompt_tokens(request, spec)
        max_out = request.max_tokens or spec.max_output or spec.context_length or 4096
        return await self._reserve(key, spec, prompt_estimate, max_out * request.n, admission), provider

    async def _reserve(
        self, key: ApiKey, spec: ModelSpec, prompt_estimate: int, max_out: int, admission: Admission | None
    ) -> Call:
        """Admit under the key's rate limits and reserve the worst case: ``prompt_estimate`` input
        and ``max_out`` output tokens at ``spec``'s price."""
        await self.admit(key, prompt_estimate + max_out, admission)
        return await self.reserve(key, spec, spec.price.cost(prompt_estimate, max_out), prompt_estimate)

    @tracing.traced("unigate.reserve")
    async def reserve(self, key: ApiKey, spec: ModelSpec, worst: int, prompt_estimate: int = 0) -> Call:
        """Reserve ``worst`` credits for a request to ``spec`` (admitted already), refusing it when
        the balance or the key's spending limit cannot cover them."""
        if worst > MAX_BALANCE:  # a length or count no balance can pay for; the store cannot hold it
            raise InsufficientCredits(
                f"This request may cost up to {worst} credits, more than any balance can hold. "
                "Ask for less (fewer tokens, a shorter length).",
            )
        outcome = await self.store.reserve(key=key, amount=worst, ttl_s=self.reservation_ttl_s, model=spec.id)
        if outcome is Refusal.BALANCE:
            raise InsufficientCredits(
                f"This request may cost up to {worst} credits, more than the balance left. "
                "Add credits, or lower max_tokens.",
            )
        if outcome is Refusal.KEY_LIMIT:
            raise SpendingLimitExceeded(
                f"This request may cost up to {worst} credits, more than this key's spending limit leaves "
                "for the current period. Raise the key's limit, or lower max_tokens.",
            )
        if not isinstance(outcome, Reservation):
            raise AuthenticationError("Incorrect API key provided, or the key is disabled.")
        self.held.add(outcome.id)
        return Call(spec, outcome, prompt_estimate, time.monotonic())

    @tracing.traced("unigate.rate_limit")
    async def admit(self, key: ApiKey, tokens: int, admission: Admission | None) -> None:
        """Count the request against the key's rate limits (its own, else the gateway's), and
        leave the decision in ``admission``."""
        rpm = key.rpm if key.rpm is not None else self.default_rpm
        tpm = key.tpm if key.tpm is not None else self.default_tpm
        if self.limiter is None or (rpm is None and tpm is None):
            return
        decision = await self.limiter.admit(key.id, rpm=rpm, tpm=tpm, tokens=tokens)
        if admission is not None:
            admission.decision = decision
        if decision.allowed:
            return
        if decision.reason == "too_large":
            message = (
                f"Request too large: it may use up to {tokens} tokens, more than this key's limit of {tpm} "
                "tokens per minute. Lower max_tokens."
            )
        elif decision.reason == "tokens":
            message = f"Rate limit reached: {tpm} tokens per minute for this key. Try again later."
        else:
            message = f"Rate limit reached: {rpm} requests per minute for this key. Try again later."
        raise RateLimited(message, headers=headers(decision))

    async def _settle(self, call: Call, usage: Usage | None, status: str) -> Charge:
        if usage is None:
            usage = Usage(call.prompt_estimate, 0)
        return await self.settle(
            call, call.spec.price.cost(usage.prompt_tokens, usage.completion_tokens), status, usage
        )

    @tracing.traced("unigate.settle")
    async def settle(self, call: Call, credits: int, status: str, usage: Usage | None = None) -> Charge:
        """Settle ``call`` to ``credits`` (at most what it reserved), once (the module: if the store fails)."""
        credits = min(credits, call.reservation.amount)
        usage = usage or Usage()
        latency_ms = int((time.monotonic() - call.started) * 1000)
        events.settled(
            call.spec.id,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            credits=credits,
            status=status,
        )
        settlement = Settlement(call.spec.id, credits, usage.prompt_tokens, usage.completion_tokens, latency_ms, status)
        try:
            await self.store.settle(call.reservation, settlement)
        except self.store.failures as exc:
            log.warning("settlement of %s kept to retry: the store failed (%s)", call.reservation.id, exc)
            self.unsettled.append((call.reservation, settlement))  # its reservation stays held
            return Charge(credits)
        except BaseException:
            # Cancelled while it waited (the store still runs it), or a bug: this process stops
            # extending the reservation, and if it still exists the sweep releases it.
            self.held.discard(call.reservation.id)
            raise
        self.held.discard(call.reservation.id)
        return Charge(credits)

    async def retry_unsettled(self) -> int:
        """Give the store the settlements it failed to take, oldest first; how many it took. Stops
        at the first that fails again (raising its error): the store is still down."""
        taken = 0
        while self.unsettled:
            reservation, settlement = self.unsettled.popleft()  # popped first: callers never share one
            try:
                await self.store.settle(reservation, settlement)
            except BaseException:
                self.unsettled.appendleft((reservation, settlement))
                raise
            self.held.discard(reservation.id)
            taken += 1
        if taken:
            log.warning("%d settlements kept while the store was failing are now recorded", taken)
        return taken

    async def _settled(self, call: Call, run: Callable[[], Awaitable[R]]) -> tuple[R, Charge]:
        """``run()``'s result and its charge, settled once: its usage, the prompt if cancelled, 0 if failed."""
        try:
            result = await run()
        except asyncio.CancelledError:
            # The client went away while the model worked: the prompt was processed.
            await self._settle(call, Usage(call.prompt_estimate, 0), "cancelled")
            raise
        except BaseException as exc:
            events.upstream_failed(call.spec.provider, exc)
            await self._settle(call, Usage(0, 0), "error")
            raise
        return result, await self._settle(call, result.usage, "ok")

    async def complete(
        self, request: ChatRequest, key: ApiKey, *, scope: str = scopes.CHAT, admission: Admission | None = None
    ) -> tuple[ChatResult, Charge]:
        """Run ``request`` for ``key`` on an endpoint that needs ``scope``; the rate limiter's
        decision goes into ``admission``."""
        call, provider = await self.begin(request, key, scope, admission)
        return await self._settled(call, lambda: provider.complete(request, call.spec))

    async def stream(
        self, request: ChatRequest, key: ApiKey, *, scope: str = scopes.CHAT, admission: Admission | None = None
    ) -> AsyncGenerator[StreamEvent | Charge, None]:
        """The provider's events, then one ``Charge``. Closing the iterator early settles what was
        generated so far: the prompt estimate plus one token per delta received."""
        call, provider = await self.begin(request, key, scope, admission)
        usage: Usage | None = None
        deltas = 0
        status = "cancelled"  # unless the loop ends or the provider fails: the consumer closed us
        events.stream_opened()
        try:
            # aclosing: a consumer that leaves closes the provider's stream (and its upstream) at once.
            async with aclosing(
                cast("AsyncGenerator[StreamEvent, None]", provider.stream(request, call.spec))
            ) as upstream:
                async for event in upstream:
                    if isinstance(event, Usage):
                        usage = event
                        continue
                    if isinstance(event, ChoiceDelta) and (event.content or event.tool_calls or event.reasoning):
                        deltas += 1
                    elif isinstance(event, Passthrough):
                        deltas += event.count
                    yield event
            status = "ok"
        except GatewayError as exc:
            status = "error"
            events.upstream_failed(call.spec.provider, exc)
            raise
        except Exception:
            status = "error"  # a bug, not the client leaving: the ledger must not say "cancelled"
            raise
        finally:
            events.stream_closed()
            if usage is None:
                usage = Usage(call.prompt_estimate, deltas) if deltas else Usage(0, 0)
            charge = await self._settle(call, usage, status)
        yield usage
        yield charge

    def resolve_embedder(self, request: EmbeddingRequest) -> tuple[ModelSpec, Embedder]:
        """The embedding model and the provider that serves it, after its checks of ``request``."""
        spec = self.catalog.resolve(request.model)
        if spec.type != "embedding":
            raise InvalidRequest(
                f"The model {spec.id!r} is not an embedding model: GET /models lists those of type 'embedding'.",
                param="model",
                code="model_not_supported",
            )
        embedder = self.services.embedder(spec.provider)
        if embedder is None:
            raise InvalidRequest(
                f"The provider of {spec.id!r} does not serve embeddings on this server.",
                param="model",
                code="model_not_supported",
            )
        embedder.check_embedding(request, spec)
        return spec, embedder

    async def embed(
        self,
        request: EmbeddingRequest,
        key: ApiKey,
        *,
        scope: str = scopes.EMBEDDINGS,
        admission: Admission | None = None,
    ) -> tuple[EmbeddingResult, Charge]:
        """Embed ``request.inputs`` for ``key``: reserved at the input bound, settled to the reported
        ``prompt_tokens`` at the model's input price."""
        authorize(key, scope)
        spec, embedder = self.resolve_embedder(request)
        call = await self._reserve(key, spec, embedder.estimate_embedding_tokens(request, spec), 0, admission)
        return await self._settled(call, lambda: embedder.embed(request, spec))


def authorize(key: ApiKey, scope: str) -> None:
    events.caller(key.prefix, key.account_id)
    if not scopes.allows(key.scopes, scope):
        raise PermissionDenied(
            f"This API key is not allowed to use this endpoint: it lacks the scope {scope!r}.",
            code="missing_scope",
        )
