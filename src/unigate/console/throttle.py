"""The console's sign-in throttle: at most ``max_failures`` failed sign-ins per client address in
``window_s``; past that the address waits until its oldest failure leaves the window.

With Redis (``UNIGATE_REDIS_URL``) the failures are counted there (``RedisThrottle``), so every
worker of ``unigate serve --workers N`` and every replica shares one budget per address, whichever
of them a sign-in lands on. Without it they are counted in this process (``MemoryThrottle``): with
one process that is the same thing, and ``--workers`` asks for Redis anyway.

Either is enough to make guessing keys (128 random bits) pointless, not a defence against a
distributed attack; sign-ins sent at the same moment are checked before any of them fails, so a
burst may pass the budget by its size. Behind a reverse proxy every client has the proxy's address,
and they share one budget.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from typing import Protocol

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from unigate.primitives.ids import hex_id

__all__ = ["THROTTLE", "MemoryThrottle", "RedisThrottle", "SignInThrottle"]

log = logging.getLogger("unigate.console")

MAX_FAILURES = 10
WINDOW_S = 600.0


class SignInThrottle(Protocol):
    async def retry_after(self, address: str) -> float | None:
        """Seconds ``address`` must wait before trying again, or ``None`` if it may try now."""
        ...

    async def failed(self, address: str) -> None: ...

    async def succeeded(self, address: str) -> None: ...


class MemoryThrottle:
    """The failures of this process, per address; the least recently failed addresses are
    forgotten past ``MAX_ADDRESSES``."""

    MAX_ADDRESSES = 10_000

    def __init__(self, *, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    async def retry_after(self, address: str) -> float | None:
        now = time.monotonic()
        failures = self._recent(address, now)
        if len(failures) < self.max_failures:
            return None
        return max(1.0, failures[0] + self.window_s - now)

    async def failed(self, address: str) -> None:
        now = time.monotonic()
        failures = self._recent(address, now)
        failures.append(now)
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > self.MAX_ADDRESSES:
            self._failures.popitem(last=False)

    async def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


# One sorted set per address (score: milliseconds of Redis's clock, so the workers' and replicas'
# clocks do not matter), expiring with its newest failure. ARGV: window ms, max failures, and a
# member to add for a failure (empty: only check). Returns the milliseconds to wait, or -1.
_CHECK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -limit - 1)
  redis.call('PEXPIRE', KEYS[1], window)
end
if redis.call('ZCARD', KEYS[1]) < limit then return -1 end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(first[2]) + window - now
"""


class RedisThrottle:
    """The failures of every process, in Redis. If Redis cannot be reached, this process counts
    on its own (``MemoryThrottle``) and says so in the log: the console stays usable."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._limit = max_failures
        self._window_ms = round(window_s * 1000)
        self._script = client.register_script(_CHECK)
        self._fallback = MemoryThrottle(max_failures=max_failures, window_s=window_s)

    def _key(self, address: str) -> str:
        return f"{self._prefix}signin:{address}"

    async def _call(self, address: str, member: str) -> float | None:
        wait_ms = int(await self._script(keys=[self._key(address)], args=[self._window_ms, self._limit, member]))
        return None if wait_ms < 0 else max(1.0, wait_ms / 1000)

    async def retry_after(self, address: str) -> float | None:
        try:
            return await self._call(address, "")
        except RedisError as exc:
            log.warning("sign-in throttle: Redis unavailable, counting in this process: %s", exc)
            return await self._fallback.retry_after(address)

    async def failed(self, address: str) -> None:
        try:
            await self._call(address, hex_id(8))
        except RedisError as exc:
            log.warning("sign-in throttle: Redis unavailable, counting in this process: %s", exc)
            await self._fallback.failed(address)

    async def succeeded(self, address: str) -> None:
        await self._fallback.succeeded(address)
        try:
            await self._client.delete(self._key(address))
        except RedisError as exc:
            log.warning("sign-in throttle: Redis unavailable: %s", exc)


THROTTLE = web.AppKey("console_throttle", SignInThrottle)
