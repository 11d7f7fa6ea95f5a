"""What the web console keeps and reads in the gateway's database, beyond the rest of the
``Store`` protocol: its sessions (the ``console_sessions`` table) and the aggregates of the usage
ledger that its charts draw.

Both live in the same database as the keys, so that every replica of a gateway shares the
sessions and reports the same numbers. Each store answers with its own implementation
(``Store.console``: ``storage/sqlite/console.py``, ``storage/postgres/console.py``); the records
here, and the pure parts (the session's tokens, the percentiles), are shared by both.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from unigate.accounts.usage import UsageRow

__all__ = [
    "LATENCY_SAMPLE",
    "ConsoleViews",
    "DayTotal",
    "ModelTotal",
    "Session",
    "SessionKind",
    "UsageFilter",
    "UsageReport",
    "new_session",
    "percentile",
    "percentiles",
    "session_id",
]

SessionKind = Literal["management", "key"]

LATENCY_SAMPLE = 20_000
"""Latency percentiles are computed over at most this many of the newest successful requests."""


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    """The SHA-256 of the cookie's token (the token itself is stored nowhere)."""
    kind: SessionKind
    key_prefix: str | None
    """The API key of a ``key`` session; ``None`` for the management key."""
    csrf: str
    """The token every form and every ``fetch`` of this session must send back."""
    expires_at: datetime


def session_id(token: str) -> str:
    """The id under which the session of a cookie's token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(*, kind: SessionKind, key_prefix: str | None, ttl_s: float, now: datetime) -> tuple[str, Session]:
    """A new session's cookie token, and the session to store."""
    token = secrets.token_urlsafe(32)
    return token, Session(
        session_id(token), kind, key_prefix, secrets.token_urlsafe(32), now + timedelta(seconds=ttl_s)
    )


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which ledger rows a report or a table covers."""

    since: datetime
    account_id: int | None = None
    key_id: int | None = None
    model: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: str
    """``YYYY-MM-DD`` (UTC)."""
    requests: int = 0
    errors: int = 0
    credits: int = 0


@dataclass(frozen=True, slots=True)
class ModelTotal:
    model: str
    requests: int
    errors: int
    credits: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: tuple[int, int, int] | None = None
    """p50, p90 and p99 of the successful requests, if any."""

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class UsageReport:
    days: list[DayTotal]
    """Only the days with requests; the page fills in the others."""
    models: list[ModelTotal]
    """Most credits first."""
    latency_ms: tuple[int, int, int] | None = None
    """p50, p90 and p99 over every model."""

    @property
    def requests(self) -> int:
        return sum(m.requests for m in self.models)

    @property
    def errors(self) -> int:
        return sum(m.errors for m in self.models)

    @property
    def credits(self) -> int:
        return sum(m.credits for m in self.models)


def percentile(ordered: list[int], q: float) -> int:
    """The nearest-rank ``q`` percentile (0-100) of a sorted, non-empty list."""
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def percentiles(latencies: list[int]) -> tuple[int, int, int] | None:
    if not latencies:
        return None
    ordered = sorted(latencies)
    return percentile(ordered, 50), percentile(ordered, 90), percentile(ordered, 99)


class ConsoleViews(Protocol):
    async def create_session(
        self, *, kind: SessionKind, key_prefix: str | None, credential: str, ttl_s: float
    ) -> tuple[str, Session]:
        """A new session; returns the cookie's token (shown only now) with it. ``credential`` is
        the digest of the key signed in with: the session is valid while that key is."""

    async def session(self, token: str) -> Session | None:
        """The unexpired session of this cookie token whose key is still valid: the management
        key still the stored one, or the API key still enabled and undeleted."""

    async def delete_session(self, token: str) -> None: ...

    async def purge_sessions(self) -> int:
        """Delete the expired sessions; returns how many."""

    async def usage_report(self, where: UsageFilter) -> UsageReport: ...

    async def usage_rows(self, where: UsageFilter, *, after: int | None = None, limit: int = 50) -> list[UsageRow]:
        """Newest first; ``after`` is the ``id`` of the last row of the previous page."""

    async def total_balance(self) -> tuple[int, int]:
        """The number of accounts and the credits on them."""
