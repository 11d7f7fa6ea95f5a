"""The request flow: resolve the model, check it can honour the request, reserve the worst-case
credits, call the provider, settle to the actual cost in a ``finally``.

Settlement happens exactly once per request whatever ends it: success, a provider error, a
client that disconnects (the handler's task is cancelled), or a stream closed early. The store
makes a second settlement of the same reservation a no-op, and a process that dies holding a
reservation leaves it to expire (``Store.release_expired``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

from unigate.accounts.store import ApiKey, Reservation, Settlement, Store
from unigate.catalog.catalog import Catalog
from unigate.catalog.spec import CREDITS_PER_USD, ModelSpec
from unigate.core.chat import ChatRequest, FilePart, ImagePart
from unigate.core.results import ChatResult, ChoiceDelta, StreamEvent, Usage
from unigate.errors import GatewayError, InsufficientCredits, UnsupportedContent, UnsupportedParameter
from unigate.providers.base import Provider

__all__ = ["Charge", "Gateway"]


@dataclass(frozen=True, slots=True)
class Charge:
    """What a request cost; reported as ``meta.usage``."""

    credits: int

    @property
    def usd(self) -> float:
        return self.credits / CREDITS_PER_USD


@dataclass(frozen=True, slots=True)
class _Call:
    spec: ModelSpec
    provider: Provider
    reservation: Reservation
    prompt_estimate: int
    started: float


class Gateway:
    def __init__(
        self,
        *,
        catalog: Catalog,
        providers: Mapping[str, Provider],
        store: Store,
        reservation_ttl_s: float = 900.0,
    ) -> None:
        self.catalog = catalog
        self.providers = providers
        self.store = store
        self.reservation_ttl_s = reservation_ttl_s

    def resolve(self, request: ChatRequest) -> tuple[ModelSpec, Provider]:
        """The model and its provider, after checking that they can honour ``request``."""
        spec = self.catalog.resolve(request.model)
        unsupported = sorted(request.requested - spec.params)
        if unsupported:
            raise UnsupportedParameter(
                f"The model {spec.id!r} does not support the parameter {unsupported[0]!r}.",
                param=unsupported[0],
            )
        for i, message in enumerate(request.messages):
            for j, part in enumerate(message.content):
                kind = "image" if isinstance(part, ImagePart) else "file" if isinstance(part, FilePart) else "text"
                if kind not in spec.input_modalities:
                    raise UnsupportedContent(
                        f"The model {spec.id!r} does not read {kind} content.",
                        param=f"messages[{i}].content[{j}]",
                    )
        provider = self.providers.get(spec.provider)
        if provider is None:
            raise UnsupportedParameter(f"The provider of {spec.id!r} is not configured.", param="model")
        provider.check(request, spec)
        return spec, provider

    async def _begin(self, request: ChatRequest, key: ApiKey) -> _Call:
        spec, provider = self.resolve(request)
        prompt_estimate = provider.estimate_prompt_tokens(request, spec)
        max_out = request.max_tokens or spec.max_output or spec.context_length or 4096
        worst = spec.price.cost(prompt_estimate, max_out * request.n)
        reservation = await self.store.reserve(key=key, amount=worst, ttl_s=self.reservation_ttl_s)
        if reservation is None:
            raise InsufficientCredits(
                f"This request may cost up to {worst} credits, more than the balance left. "
                "Add credits, or lower max_tokens.",
            )
        return _Call(spec, provider, reservation, prompt_estimate, time.monotonic())

    async def _settle(self, call: _Call, usage: Usage | None, status: str) -> Charge:
        if usage is None:
            usage = Usage(call.prompt_estimate, 0)
        credits = min(call.spec.price.cost(usage.prompt_tokens, usage.completion_tokens), call.reservation.amount)
        latency_ms = int((time.monotonic() - call.started) * 1000)
        await self.store.settle(
            call.reservation,
            Settlement(call.spec.id, credits, usage.prompt_tokens, usage.completion_tokens, latency_ms, status),
        )
        return Charge(credits)

    async def complete(self, request: ChatRequest, key: ApiKey) -> tuple[ChatResult, Charge]:
        call = await self._begin(request, key)
        try:
            result = await call.provider.complete(request, call.spec)
        except asyncio.CancelledError:
            # The client went away while the model worked: the prompt was processed.
            await self._settle(call, Usage(call.prompt_estimate, 0), "cancelled")
            raise
        except BaseException:
            await self._settle(call, Usage(0, 0), "error")
            raise
        return result, await self._settle(call, result.usage, "ok")

    async def stream(self, request: ChatRequest, key: ApiKey) -> AsyncGenerator[StreamEvent | Charge, None]:
        """The provider's events, then one ``Charge``. Closing the iterator early settles what was
        generated so far: the prompt estimate plus one token per delta received."""
        call = await self._begin(request, key)
        usage: Usage | None = None
        deltas = 0
        status = "cancelled"  # unless the loop ends or the provider fails: the consumer closed us
        try:
            async for event in call.provider.stream(request, call.spec):
                if isinstance(event, Usage):
                    usage = event
                    continue
                if isinstance(event, ChoiceDelta) and (event.content or event.tool_calls or event.reasoning):
                    deltas += 1
                yield event
            status = "ok"
        except GatewayError:
            status = "error"
            raise
        finally:
            if usage is None:
                usage = Usage(call.prompt_estimate, deltas) if deltas else Usage(0, 0)
            charge = await self._settle(call, usage, status)
        yield usage
        yield charge
