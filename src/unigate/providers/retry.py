"""Which upstream failures are worth another attempt, and how long to wait before one.

Retryable (the upstream, not the request, is at fault; another deployment or a moment later may
answer): ``RateLimited`` (429), ``Overloaded`` (503/529), ``UpstreamTimeout`` (connect, first
byte, total; 408/504) and ``UpstreamError`` (other 5xx, a refused or reset connection, a body
cut short, a rejected key of one deployment). Never retried: ``InvalidRequest`` and its
subclasses (the upstream's 400/422, and what our own checks refuse), ``PayloadTooLarge``, and
anything that is not a ``GatewayError`` (a bug).

Backoff applies only before trying *the same* deployment again: exponential from
``backoff_base_s``, capped at ``backoff_max_s``, with "equal jitter" (half the delay fixed, half
random) so that the retries of many requests spread out
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). An upstream's
``Retry-After`` raises the wait to what it asks, unless it asks for more than ``backoff_max_s``:
then that deployment is not tried again within this request (the client gets the 429 and its
``Retry-After`` if nothing else answers).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from unigate.errors import GatewayError, Overloaded, RateLimited, UpstreamError, UpstreamTimeout

__all__ = ["RetryPolicy", "retry_after_s", "retryable"]

RETRYABLE: tuple[type[GatewayError], ...] = (RateLimited, Overloaded, UpstreamTimeout, UpstreamError)


def retryable(exc: BaseException) -> bool:
    """Whether another attempt (elsewhere, or later) may succeed where this one failed."""
    return isinstance(exc, RETRYABLE)


def retry_after_s(exc: GatewayError) -> float | None:
    """The upstream's ``Retry-After`` in seconds, when it sent one as a number."""
    value = exc.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: not worth parsing for a wait we cap at seconds anyway


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 1
    """Attempts after the first. Every deployment and fallback gets one attempt anyway, so this
    matters when there are fewer candidates than ``retries + 1``: they are tried again in turn."""
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("retries and backoff delays cannot be negative")

    def backoff_s(
        self, tried: int, *, retry_after: float | None = None, rand: Callable[[], float] = random.random
    ) -> float | None:
        """The wait before attempt ``tried + 1`` on a deployment already tried ``tried`` times,
        or ``None`` when its ``Retry-After`` is longer than we are willing to wait."""
        if retry_after is not None and retry_after > self.backoff_max_s:
            return None
        delay = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** max(0, tried - 1))
        jittered = delay / 2 + rand() * delay / 2
        return max(jittered, retry_after or 0.0)
