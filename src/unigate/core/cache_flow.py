"""Chat requests through the response cache (``core/response_cache.py``), around the gateway.

The same checks come first (the key's scope, the model and what it can honour), so a refused
request is refused whether or not its answer is cached. Then the entry is looked up: a hit is
admitted under the key's rate limits (at the tokens it stands for), reserved and settled at once
to what the operator bills for hits (nothing by default, else the answer's usage at today's
price) with the status ``cached``, so the ledger has a row for it as for any request; then its
answer, or its stream's events in order, is returned. A miss runs through the gateway as usual
(its own ledger row, ``ok``) and its answer is kept if it finished: a stream closed early or
failed keeps nothing.

A backend that fails (Redis or the database down) is a miss, logged: the cache saves money, it
must not turn an outage of its store into one of the gateway.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from unigate.accounts import scopes
from unigate.accounts.store import ApiKey
from unigate.catalog.spec import ModelSpec
from unigate.core.cache_codec import decode_events, decode_result, encode_events, encode_result
from unigate.core.chat import ChatRequest
from unigate.core.gateway import Charge, Gateway, authorize
from unigate.core.response_cache import CacheAsk, CachedEntry, CachePolicy, ResponseCache, deterministic, entry_key
from unigate.core.response_cache import scope_of as _scope_of
from unigate.core.results import ChatResult, StreamEvent, Usage
from unigate.limits.window import Admission
from unigate.settings.cache import CacheSettings

__all__ = ["CachedChat", "cache_policy"]

log = logging.getLogger("unigate.cache")


def cache_policy(settings: CacheSettings) -> CachePolicy:
    return CachePolicy(
        ttl_s=settings.ttl_s,
        max_ttl_s=settings.max_ttl_s,
        max_entry_bytes=settings.max_entry_bytes,
        scope=settings.scope,
        hit_billing=settings.hit_billing,
    )


class CachedChat:
    """``Gateway.complete`` and ``Gateway.stream`` with the cache in front, for requests that ask."""

    def __init__(self, gateway: Gateway, backend: ResponseCache, policy: CachePolicy) -> None:
        self.gateway = gateway
        self.backend = backend
        self.policy = policy

    def _plan(self, request: ChatRequest, key: ApiKey, scope: str, ask: CacheAsk) -> tuple[ModelSpec, str, str] | None:
        """The checks, then the model, the entry's scope and key; ``None`` when not to cache."""
        authorize(key, scope)
        spec, _ = self.gateway.resolve(request)
        if not (ask.force or deterministic(request)):
            return None
        ask.key = entry_key(request, spec.id) + (".s" if request.stream else "")
        return spec, _scope_of(self.policy, key.account_id), ask.key

    def _ttl(self, ask: CacheAsk) -> float:
        return min(ask.ttl_s if ask.ttl_s is not None else self.policy.ttl_s, self.policy.max_ttl_s)

    async def _get(self, where: str, entry: str) -> CachedEntry | None:
        try:
            return await self.backend.get(where, entry)
        except Exception as exc:  # a store down or an entry it cannot read: a miss
            log.warning("response cache lookup failed: %r", exc)
            return None

    async def _put(self, where: str, entry: str, found: CachedEntry, ask: CacheAsk) -> None:
        if len(found.body) > self.policy.max_entry_bytes:
            return
        try:
            await self.backend.put(where, entry, found, ttl_s=self._ttl(ask))
        except Exception as exc:
            log.warning("response cache store failed: %r", exc)

    async def _bill_hit(self, key: ApiKey, spec: ModelSpec, usage: Usage, admission: Admission | None) -> Charge:
        """A hit's ledger row, reserved and settled at once (``cached``), and its charge."""
        await self.gateway.admit(key, usage.prompt_tokens + usage.completion_tokens, admission)
        credits = 0
        if self.policy.hit_billing == "full":
            credits = spec.price.cost(usage.prompt_tokens, usage.completion_tokens)
        call = await self.gateway.reserve(key, spec, credits, usage.prompt_tokens)
        charge = await self.gateway.settle(call, credits, "cached", usage)
        return replace(charge, cache=True)

    async def complete(
        self,
        request: ChatRequest,
        key: ApiKey,
        *,
        scope: str = scopes.CHAT,
        admission: Admission | None = None,
        cache: CacheAsk | None = None,
    ) -> tuple[ChatResult, Charge]:
        plan = None if cache is None else self._plan(request, key, scope, cache)
        if cache is None or plan is None:
            return await self.gateway.complete(request, key, scope=scope, admission=admission)
        spec, where, entry = plan
        found = await self._get(where, entry)
        if found is not None:
            try:
                result = decode_result(found.body)
            except (ValueError, TypeError) as exc:
                log.warning("response cache entry unreadable, ignored: %r", exc)
            else:
                cache.outcome = "hit"
                return result, await self._bill_hit(key, spec, result.usage, admission)
        cache.outcome = "miss"
        result, charge = await self.gateway.complete(request, key, scope=scope, admission=admission)
        await self._put(where, entry, CachedEntry(spec.id, encode_result(result)), cache)
        return result, replace(charge, cache=False)

    async def stream(
        self,
        request: ChatRequest,
        key: ApiKey,
        *,
        scope: str = scopes.CHAT,
        admission: Admission | None = None,
        cache: CacheAsk | None = None,
    ) -> AsyncGenerator[StreamEvent | Charge, None]:
        """The gateway's stream, or a cached one replayed event by event; then one ``Charge``."""
        plan = None if cache is None else self._plan(request, key, scope, cache)
        if cache is None or plan is None:
            async with aclosing(self.gateway.stream(request, key, scope=scope, admission=admission)) as events:
                async for event in events:
                    yield event
            return
        spec, where, entry = plan
        found = await self._get(where, entry)
        replayed: list[StreamEvent] | None = None
        if found is not None:
            try:
                replayed = decode_events(found.body)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("response cache entry unreadable, ignored: %r", exc)
        if replayed is not None:
            cache.outcome = "hit"
            usage = next((e for e in replayed if isinstance(e, Usage)), Usage())
            charge = await self._bill_hit(key, spec, usage, admission)
            for event in replayed:
                yield event
            yield charge
            return
        cache.outcome = "miss"
        kept: list[StreamEvent] = []
        async with aclosing(self.gateway.stream(request, key, scope=scope, admission=admission)) as events:
            async for event in events:
                if isinstance(event, Charge):
                    # The stream finished: the gateway yields its charge only then.
                    await self._put(where, entry, CachedEntry(spec.id, encode_events(kept)), cache)
                    yield replace(event, cache=False)
                    continue
                kept.append(event)
                yield event
