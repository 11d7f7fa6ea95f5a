"""The running parts of accounts, built from the settings: the key cache, the rate limiter and,
with Redis, the key-change channel; and the upkeep of reservations.

Without Redis: rate limits counted in this process, and a key cache only where the store can
tell that another process changed it (SQLite's ``data_version``). With Redis: cached key lookups
invalidated through the channel, rate limits counted in Redis for every process.

Upkeep, every quarter of the reservation TTL: extend the reservations of this process's requests
still in progress, then release the expired ones (of any process: one that died). A process killed
mid-request thus leaves its reservations for at most one TTL, and each is released exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis

from unigate.accounts.key_events import KeyEvents
from unigate.accounts.keycache import KeyCache
from unigate.accounts.store import Store
from unigate.limits.memory import MemoryRateLimiter
from unigate.limits.redis import RedisRateLimiter
from unigate.limits.window import RateLimiter
from unigate.settings import Settings

__all__ = ["AccountServices", "upkeep"]

log = logging.getLogger("unigate.accounts")

MAX_UPKEEP_INTERVAL_S = 60.0


@dataclass
class AccountServices:
    keys: KeyCache
    limiter: RateLimiter
    events: KeyEvents | None = None
    redis: aioredis.Redis | None = None
    management_key: str | None = None
    """Installed in the store at start (``UNIGATE_MANAGEMENT_KEY``), replacing the stored one."""

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> AccountServices:
        if settings.redis_url is None:
            epoch = getattr(store, "change_counter", None)
            cache = KeyCache(store, ttl_s=settings.key_cache_ttl_s, epoch=epoch) if epoch else KeyCache(store)
            return cls(keys=cache, limiter=MemoryRateLimiter(), management_key=settings.management_key)
        client = aioredis.Redis.from_url(settings.redis_url, health_check_interval=30)
        events = KeyEvents(client, prefix=settings.redis_prefix)
        return cls(
            keys=KeyCache(store, ttl_s=settings.key_cache_ttl_s, publish=events.publish),
            limiter=RedisRateLimiter(client, prefix=settings.redis_prefix),
            events=events,
            redis=client,
            management_key=settings.management_key,
        )

    @contextlib.asynccontextmanager
    async def running(self, store: Store, held: set[str], *, reservation_ttl_s: float) -> AsyncIterator[None]:
        """Listen for key changes and keep reservations while the app runs."""
        if self.management_key is not None:
            await store.ensure_management_key(self.management_key)
        tasks = [asyncio.create_task(upkeep(store, held, ttl_s=reservation_ttl_s))]
        if self.events is not None:
            tasks.append(asyncio.create_task(self.events.listen(self.keys)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.limiter.close()
            if self.redis is not None:
                await self.redis.aclose()


async def upkeep(store: Store, held: set[str], *, ttl_s: float) -> None:
    """Extend the reservations in ``held``, release the expired ones; forever."""
    interval = min(ttl_s / 4, MAX_UPKEEP_INTERVAL_S)
    while True:
        try:
            await store.extend_reservations(list(held), ttl_s)
            released = await store.release_expired()
            if released:
                log.warning("released %d credit reservations abandoned by a process that stopped", released)
        except Exception:
            log.exception("reservation upkeep failed")
        await asyncio.sleep(interval)
