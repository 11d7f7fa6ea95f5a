"""Rate limits counted in this process: for a single gateway process (no Redis configured)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from unigate.limits.window import WINDOW_S, Decision, Reason

__all__ = ["MemoryRateLimiter"]


@dataclass(slots=True)
class _Log:
    """The admissions of one key in the last window, oldest first, and their token total."""

    entries: deque[tuple[float, int]] = field(default_factory=deque)
    tokens: int = 0


class MemoryRateLimiter:
    def __init__(self, *, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_s
        self._clock = clock
        self._logs: dict[int, _Log] = {}

    async def admit(self, key_id: int, *, rpm: int | None, tpm: int | None, tokens: int) -> Decision:
        now = self._clock()
        log = self._logs.setdefault(key_id, _Log())
        entries = log.entries
        while entries and entries[0][0] <= now - self._window:
            log.tokens -= entries.popleft()[1]
        reason: Reason = ""
        retry = 0.0
        if rpm is not None and len(entries) + 1 > rpm:
            reason, retry = "requests", entries[0][0] + self._window - now
        if tpm is not None and tokens > tpm:
            reason, retry = "too_large", self._window
        elif tpm is not None and log.tokens + tokens > tpm:
            need, freed = log.tokens + tokens - tpm, 0
            for at, spent in entries:
                freed += spent
                if freed >= need:
                    retry = max(retry, at + self._window - now)
                    break
            reason = reason or "tokens"
        if not reason:
            entries.append((now, tokens))
            log.tokens += tokens
        reset = entries[-1][0] + self._window - now if entries else 0.0
        if not entries:
            del self._logs[key_id]
        return Decision(
            allowed=not reason,
            rpm=rpm,
            tpm=tpm,
            remaining_requests=(rpm or 0) - len(entries),
            remaining_tokens=(tpm or 0) - log.tokens,
            reset_requests_s=reset,
            reset_tokens_s=reset,
            retry_after_s=retry,
            reason=reason,
        )

    async def close(self) -> None:
        self._logs.clear()
