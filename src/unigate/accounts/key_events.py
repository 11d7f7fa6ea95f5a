"""Key changes announced between gateway processes on a Redis channel.

Whoever changes a key (an admin endpoint on any replica, or ``unigate keys`` from a shell)
publishes its prefix; every replica listens and drops that key from its ``KeyCache``. Redis
delivers a message to the subscribers before it answers the publisher, so by the time the
management API answers, every replica has the message in its socket.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from unigate.accounts.keycache import KeyCache

__all__ = ["KeyEvents"]

log = logging.getLogger("unigate.accounts")

RECONNECT_DELAY_S = 1.0


class KeyEvents:
    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._client = client
        self.channel = f"{prefix}keys:changed"
        self._stopped = False

    def stop(self) -> None:
        """Make ``listen`` return instead of reconnecting. For shutdown: redis-py can lose the
        cancellation of a task blocked in a pub/sub read (redis/redis-py#2028, #2551), and such a
        task then only ends when its connection is closed under it."""
        self._stopped = True

    async def publish(self, key_prefix: str) -> None:
        try:
            await self._client.publish(self.channel, key_prefix)
        except RedisError:
            # The change is in the database; other replicas trust their cached copy until it
            # expires (and never for spending: reservations check the key in the database).
            log.exception("could not announce the change of key %s", key_prefix)

    async def listen(self, cache: KeyCache) -> None:
        """Apply the announced changes to ``cache`` until cancelled or stopped; reconnects on errors."""
        while not self._stopped:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        # (Re)subscribed: what was published meanwhile is lost, so forget all.
                        cache.forget(None)
                        cache.enabled = True
                    elif message["type"] == "message":
                        data = message["data"]
                        cache.forget(data.decode() if isinstance(data, bytes) else str(data))
            except RedisError:
                if self._stopped:
                    return  # the connection was closed for shutdown
                log.warning("lost the key-change channel; key lookups are not cached until it is back")
            finally:
                cache.enabled = False
                cache.forget(None)
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RECONNECT_DELAY_S)
