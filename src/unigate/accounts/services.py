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
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
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
SHUTDOWN_WAIT_S = 2.0
"""How long the shutdown waits for a cancelled background task, before and after closing Redis."""


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
            epoch = store.change_counter
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
    async def running(
        self,
        store: Store,
        held: set[str],
        *,
        reservation_ttl_s: float,
        retry_unsettled: Callable[[], Awaitable[int]] | None = None,
    ) -> AsyncIterator[None]:
        """Listen for key changes and keep reservations while the app runs."""
        if self.management_key is not None:
            await store.ensure_management_key(self.management_key)
        tasks = [asyncio.create_task(upkeep(store, held, ttl_s=reservation_ttl_s, retry_unsettled=retry_unsettled))]
        if self.events is not None:
            tasks.append(asyncio.create_task(self.events.listen(self.keys)))
        try:
            yield
        finally:
            if self.events is not None:
                self.events.stop()
            for task in tasks:
                task.cancel()
            running = await _finish(tasks)
            await self.limiter.close()
            if self.redis is not None:
                # Also closes the connection of a listener whose cancellation redis-py lost: its
                # read fails, and being stopped it returns.
                await self.redis.aclose()
            if running and await _finish(running):
                log.warning("a background task did not stop within %.0f s; shutting down without it", SHUTDOWN_WAIT_S)


async def _finish(tasks: Collection[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
    """Wait at most ``SHUTDOWN_WAIT_S`` for cancelled ``tasks`` to end; those still running.
    Bounded, so that a task that lost its cancellation cannot hang the shutdown."""
    done, running = await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_S)
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a background task failed", exc_info=exc)
    return running


async def upkeep(
    store: Store,
    held: set[str],
    *,
    ttl_s: float,
    retry_unsettled: Callable[[], Awaitable[int]] | None = None,
) -> None:
    """Record the settlements the store failed to take (``retry_unsettled``), extend the
    reservations in ``held``, release the expired ones; forever. Settlements go first, so that
    when the store is back a kept settlement wins over the expiry of its reservation."""
    interval = min(ttl_s / 4, MAX_UPKEEP_INTERVAL_S)
    while True:
        try:
            if retry_unsettled is not None:
                await retry_unsettled()
            await store.extend_reservations(list(held), ttl_s)
            released = await store.release_expired()
            if released:
                log.warning("released %d credit reservations abandoned by a process that stopped", released)
        except store.failures as exc:  # the database is down: one line per turn, no traceback
            log.warning("reservation upkeep failed, the store is unavailable: %s", exc)
        except Exception:
            log.exception("reservation upkeep failed")
        await asyncio.sleep(interval)
