"""The rate-limit interface: a sliding one-minute window per key, and the headers OpenAI sends.

A key may make at most ``rpm`` requests and admit at most ``tpm`` tokens in any 60 seconds. The
window is a log of admissions (time, tokens), not fixed minutes: a fixed window would let a
client send ``2 * rpm`` requests across a minute boundary. Tokens are counted at admission, as
OpenAI does: the prompt estimate plus the maximum output (``max_tokens`` times ``n``, else the
model's maximum), the same worst case that the credit reservation covers; they are not corrected
after the answer. A request refused by the limiter is not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

from unigate.primitives.records import record

__all__ = ["WINDOW_S", "Admission", "Decision", "RateLimiter", "duration", "headers"]

WINDOW_S = 60.0

Reason = Literal["", "requests", "tokens", "too_large"]


@record
class Decision:
    allowed: bool
    rpm: int | None
    tpm: int | None
    remaining_requests: int
    remaining_tokens: int
    reset_requests_s: float
    """Until the request window is empty again (OpenAI: "resets to its initial state")."""
    reset_tokens_s: float
    retry_after_s: float
    """When refused: until enough of the window has passed for this request to fit."""
    reason: Reason = ""
    """When refused: ``requests``, ``tokens``, or ``too_large`` (more tokens than ``tpm``)."""


class RateLimiter(Protocol):
    async def admit(self, key_id: int, *, rpm: int | None, tpm: int | None, tokens: int) -> Decision:
        """Count the request in the key's window if both limits allow it."""

    async def close(self) -> None: ...


@dataclass(slots=True)
class Admission:
    """Where the gateway leaves the decision it took for one request. The API handler makes one
    per request and hands it to the gateway; the API edge puts its ``x-ratelimit-*`` headers on
    the response (``api/ratelimit_headers.py``): the gateway does not see the HTTP response."""

    decision: Decision | None = None


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``17ms``, ``1s``, ``59.541s``, ``6m0s``."""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


def headers(decision: Decision) -> dict[str, str]:
    """The ``x-ratelimit-*`` headers (for the limits the key has), and ``Retry-After`` when refused."""
    out: dict[str, str] = {}
    if decision.rpm is not None:
        out["x-ratelimit-limit-requests"] = str(decision.rpm)
        out["x-ratelimit-remaining-requests"] = str(max(decision.remaining_requests, 0))
        out["x-ratelimit-reset-requests"] = duration(decision.reset_requests_s)
    if decision.tpm is not None:
        out["x-ratelimit-limit-tokens"] = str(decision.tpm)
        out["x-ratelimit-remaining-tokens"] = str(max(decision.remaining_tokens, 0))
        out["x-ratelimit-reset-tokens"] = duration(decision.reset_tokens_s)
    if not decision.allowed:
        out["Retry-After"] = str(max(1, math.ceil(decision.retry_after_s)))
        # The OpenAI SDKs prefer this one to Retry-After: it keeps the sub-second precision.
        out["retry-after-ms"] = str(max(1, math.ceil(decision.retry_after_s * 1000)))
    return out
