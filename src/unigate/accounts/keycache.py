"""API-key lookups, cached in the process when the gateway's processes share invalidations.

On SQLite without Redis, a lookup is kept for ``ttl_s`` at most and everything is dropped as soon
as the file's change counter (``PRAGMA data_version``, read at most once per millisecond) says
that another process wrote to it: ``unigate keys`` in another process may change a key at any
time. Changes made by this process drop the key's entry directly (``changed``).
With Redis, a lookup is kept for ``ttl_s`` at most, and every change to a key (through the API or
the CLI, on any process) is published at once on a Redis channel (``accounts/key_events.py``);
each process drops its entry when the message arrives, and drops everything when it
(re)subscribes, since messages sent while it was not listening are lost. Until it is subscribed
the cache is bypassed.

The cache is not what stops a revoked key from spending: the store checks that the key is
enabled in the same transaction that reserves credits (``Store.reserve``), so a request that
slipped through a stale entry is still refused before any upstream call.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from unigate.accounts import keys
from unigate.accounts.store import ApiKey, Store

__all__ = ["KeyCache"]

MAX_ENTRIES = 100_000
EPOCH_CHECK_INTERVAL_S = 0.01
"""How often the store's change counter is read at most: a change by another process is seen
within this long (and the reservation, which checks the key in the store, refuses a revoked key
at once anyway). Reading it costs several microseconds: once a millisecond was about 1 % of a
request's CPU at 2,000 requests/s."""


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: str
    key: ApiKey
    expires: float


class KeyCache:
    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float = 0.0,
        publish: Callable[[str], Awaitable[None]] | None = None,
        epoch: Callable[[], int] | None = None,
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._publish = publish
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._epoch = epoch
        self._seen_epoch: int | None = None
        self._epoch_checked = -EPOCH_CHECK_INTERVAL_S
        self.enabled = epoch is not None
        """Set by the invalidation listener while it is subscribed (always, with ``epoch``)."""

    async def authenticate(self, key: str) -> ApiKey | None:
        """The enabled key whose hash matches, else ``None``."""
        if not self.enabled or self._ttl <= 0:
            return await self._store.authenticate(key)
        now = time.monotonic()
        if self._epoch is not None and now >= self._epoch_checked + EPOCH_CHECK_INTERVAL_S:
            self._epoch_checked = now
            if (epoch := self._epoch()) != self._seen_epoch:
                self._seen_epoch = epoch
                self.forget(None)  # another process wrote to the store: any key may have changed
        prefix = keys.prefix_of(key)
        digest = keys.digest(key)
        entry = self._entries.get(prefix)
        if entry is not None and entry.expires > now and hmac.compare_digest(digest, entry.digest):
            return entry.key
        generation = self._generation
        found = await self._store.authenticate(key)
        # Not if an invalidation arrived while the store was read: the answer may predate it.
        if found is not None and generation == self._generation and self.enabled:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[prefix] = _Entry(digest, found, now + self._ttl)
        return found

    def forget(self, prefix: str | None) -> None:
        """Drop one key's entry, or (``None``) every entry."""
        self._generation += 1
        if prefix is None:
            self._entries.clear()
        else:
            self._entries.pop(prefix, None)

    async def changed(self, prefix: str) -> None:
        """A key was changed by this process: forget it here and tell the other processes."""
        self.forget(prefix)
        if self._publish is not None:
            await self._publish(prefix)
