"""The response cache in Redis (``core/response_cache.py``'s ``ResponseCache``), shared by every
replica when ``UNIGATE_REDIS_URL`` is set, on the client the rate limiter uses.

An entry is one string, ``<prefix>cache:<scope>:<key>``, holding its model, a NUL and its body,
expiring with Redis's own ``EX``; Redis's ``maxmemory`` policy bounds the total. Each model has a
set of its entries' names (``<prefix>cache-model:<model>``), kept as long as the longest TTL, so
that a model's entries are invalidated without scanning; an account's, or one entry's, are
found with ``SCAN``.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from unigate.core.response_cache import CachedEntry

__all__ = ["RedisResponseCache"]


class RedisResponseCache:
    def __init__(self, client: aioredis.Redis, *, prefix: str, max_ttl_s: float) -> None:
        self._redis = client
        self._prefix = prefix
        self._max_ttl_ms = max(1, int(max_ttl_s * 1000))

    def _name(self, scope: str, key: str) -> str:
        return f"{self._prefix}cache:{scope}:{key}"

    def _model_set(self, model: str) -> str:
        return f"{self._prefix}cache-model:{model}"

    async def get(self, scope: str, key: str) -> CachedEntry | None:
        value = await self._redis.get(self._name(scope, key))
        if value is None:
            return None
        model, _, body = (value if isinstance(value, bytes) else value.encode()).partition(b"\0")
        return CachedEntry(model.decode(), body)

    async def put(self, scope: str, key: str, entry: CachedEntry, *, ttl_s: float) -> None:
        name = self._name(scope, key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(name, entry.model.encode() + b"\0" + entry.body, px=max(1, int(ttl_s * 1000)))
            pipe.sadd(self._model_set(entry.model), name)
            pipe.pexpire(self._model_set(entry.model), self._max_ttl_ms)
            await pipe.execute()

    async def invalidate(self, *, scope: str | None = None, model: str | None = None, key: str | None = None) -> int:
        if scope is None and model is None and key is None:
            raise ValueError("invalidate needs a scope, a model or a key")
        if model is not None:
            members = await self._redis.smembers(self._model_set(model))
            names = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
            head = f"{self._prefix}cache:{scope}:" if scope is not None else f"{self._prefix}cache:"
            names = [n for n in names if n.startswith(head) and (key is None or n.endswith(f":{key}"))]
            if not names:
                return 0
            await self._redis.srem(self._model_set(model), *names)
        else:
            pattern = self._name(scope or "*", key or "*")
            names = [n.decode() if isinstance(n, bytes) else str(n) async for n in self._redis.scan_iter(pattern)]
            if not names:
                return 0
        return int(await self._redis.delete(*names))
