"""What every media adapter over one HTTP upstream shares: its ``Upstream``, the lifecycle that
starts and closes it, its URLs under the configured base and the files its answers link to;
``PollingAdapter`` adds the waits of an upstream that answers with a task to ask about until it
ends (``polling.py``).

An adapter is handed its ``Upstream`` rather than building it, so that one whose deployment also
serves chat can share the chat adapter's connection pool (``openai_media``); the others build
theirs with their own error reader.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypedDict, TypeVar, Unpack

from unigate.errors import GatewayError, UpstreamError, UpstreamTimeout
from unigate.providers.http import Upstream
from unigate.providers.polling import Clock, PollPolicy, poll
from unigate.providers.transport.base import Response

__all__ = ["PollingAdapter", "UpstreamAdapter", "Waits"]

T = TypeVar("T")


class UpstreamAdapter:
    """An adapter's ``name``, ``config`` and ``upstream``; starting or closing it twice is
    harmless, as ``Upstream`` does each once."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.config = upstream.config
        self.name = upstream.config.name

    async def start(self) -> None:
        await self.upstream.start()

    async def close(self) -> None:
        await self.upstream.close()

    def url(self, path: str) -> str:
        """``path`` (no leading slash) under the configured base URL."""
        return f"{(self.config.base_url or '').rstrip('/')}/{path}"

    async def open_link(self, link: str, what: str) -> Response:
        """The exchange streaming ``what`` from a link in the upstream's answer (its media store),
        asked without our key."""
        try:
            return await self.upstream.open("GET", link, headers={}, stream=True)
        except UpstreamTimeout:
            raise
        except GatewayError as exc:
            # The link is the upstream's store: a refusal there says nothing about our key.
            raise UpstreamError(f"The {self.name} provider's {what} could not be downloaded from its link.") from exc


class Waits(TypedDict, total=False):
    """What a polling adapter's constructor may be given for its waits: another ``policy`` than
    its upstream's, and the ``sleep`` and ``clock`` that tests fake so that they neither wait nor
    depend on how long they take."""

    sleep: Callable[[float], Awaitable[None]]
    clock: Clock
    policy: PollPolicy


class PollingAdapter(UpstreamAdapter):
    """An adapter that waits for its upstream's tasks, by its ``default`` policy unless ``waits``
    gives another."""

    def __init__(self, upstream: Upstream, default: PollPolicy, /, **waits: Unpack[Waits]) -> None:
        super().__init__(upstream)
        self.sleep = waits.get("sleep", asyncio.sleep)
        self.clock = waits.get("clock", time.monotonic)
        self.policy = waits.get("policy", default)

    async def wait_for(self, check: Callable[[], Awaitable[T | None]], what: str) -> T:
        """``check``'s outcome once the task has ended (``poll``); ``what`` names the task in a
        timeout."""
        return await poll(check, policy=self.policy, sleep=self.sleep, clock=self.clock, what=what)
