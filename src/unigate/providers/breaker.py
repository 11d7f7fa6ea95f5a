"""A circuit breaker for one deployment: stop sending requests to an upstream that keeps failing.

States (https://martinfowler.com/bliki/CircuitBreaker.html)::

    closed ──(failures consecutive failures)──▶ open ──(cooldown_s elapsed)──▶ half-open
      ▲                                          ▲                               │
      └───────────────(the trial succeeds)───────┼───────────────────────────────┤
                                                 └───────(the trial fails)───────┘

*Closed*: every request may go. *Open*: none may, until ``cooldown_s`` have passed. *Half-open*:
exactly one request (the trial) may go; while it runs every other one is refused. Its success
closes the breaker, its failure opens it for another cool-down, and a trial that ends without a
verdict (the client left, the request was invalid) frees the slot for the next one.

What counts as a failure is the router's business (``router.py``): retryable upstream errors
(429, 5xx, timeouts, broken connections). Any answer that shows the upstream alive, including a
400 for a bad request, counts as a success.

Single event loop, no locks: every method runs to completion without awaiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self, *, failures: int = 5, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failures < 1:
            raise ValueError("a circuit breaker needs failures >= 1")
        self.failures = failures
        """Consecutive failures that open the breaker."""
        self.cooldown_s = cooldown_s
        """How long an open breaker refuses requests before it lets one trial through."""
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False
        """Whether the half-open trial is in flight."""

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._trial or self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a request may go now; in half-open, ``True`` takes the one trial slot."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._trial:
            return False
        self._trial = True
        return True

    def retry_after_s(self) -> float:
        """Seconds until ``allow`` may say yes again (0 when it would now)."""
        if self._opened_at is None or self._trial:
            return 0.0 if self._opened_at is None else self.cooldown_s
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def success(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._trial = False

    def failure(self) -> None:
        self._consecutive += 1
        if self._trial or self._consecutive >= self.failures:
            self._opened_at = self._clock()
        self._trial = False

    def release(self) -> None:
        """A request that was allowed ended without telling whether the upstream works."""
        self._trial = False
