"""What the service's account endpoints read from the accounts database: the account's ledger
(``GET /v2/billing/transactions``), a key's spend over a window (``GET /v2/usage``,
``/v2/usage/detail``), its request rows (``GET /v2/logs``) and the latency of recent successful
requests (``GET /models/metrics``).

Everything here is read from what the gateway records anyway: the usage ledger (one row per
request that reserved credits, with its cost, tokens, latency and status) and the credit entries
(one row per change of a balance that is not a request: an account's first credits, a top-up, a
refund, an adjustment). Each store answers with its own SQL (``storage/sqlite/reports.py``,
``storage/postgres/reports.py``); the records and the query types are here, shared by both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal, Protocol, get_args
from zoneinfo import ZoneInfo

__all__ = [
    "CREDIT_KINDS",
    "TRANSACTION_KINDS",
    "CreditKind",
    "Direction",
    "Grouping",
    "KeySpend",
    "KeyWindow",
    "LatencySample",
    "LogQuery",
    "LogRow",
    "Position",
    "Reports",
    "Transaction",
    "TransactionKind",
    "TransactionQuery",
    "UsageGroup",
    "charged",
    "day_bounds",
    "fold",
    "spend_of",
]

TransactionKind = Literal["PAYMENT", "BONUS", "REFUND", "ADJUSTMENT", "MODEL_USAGE", "CREDITS_EXPIRED", "INIT"]
TRANSACTION_KINDS: tuple[TransactionKind, ...] = get_args(TransactionKind)

CreditKind = Literal["PAYMENT", "BONUS", "REFUND", "ADJUSTMENT", "CREDITS_EXPIRED", "INIT"]
"""The kinds a credit entry records; ``MODEL_USAGE`` is the ledger's rows themselves."""
CREDIT_KINDS: tuple[CreditKind, ...] = get_args(CreditKind)

Direction = Literal["TOPUP", "CHARGE"]


def charged(status: str, credits: int) -> bool:
    """Whether a ledger row is a *charged* request, as the service counts them: every successful
    one (at its price, even a zero one), and a failed one only when it was billed (a stream the
    client closed pays for its prompt)."""
    return status == "ok" or credits > 0


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a ledger entry sorts (newest first: by time, then source, then id), so that a page
    can continue after it however many entries share its instant."""

    at: datetime
    source: int
    """0: a usage row, 1: a credit entry."""
    id: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """One movement of an account's balance."""

    position: Position
    kind: TransactionKind
    credits: int
    """Signed: positive credits came in (``TOPUP``), negative went out (``CHARGE``)."""
    model: str | None
    """The model of a ``MODEL_USAGE`` charge."""
    reference: str | None
    """A usage row's request id (``inference_id`` in ``/v2/logs``), or the reference given with a
    credit entry."""

    @property
    def direction(self) -> Direction:
        return "TOPUP" if self.credits > 0 else "CHARGE"


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    account_id: int
    start: datetime | None = None
    """Entries at or after this instant."""
    end: datetime | None = None
    """Entries before this instant."""
    direction: Direction | None = None
    kind: TransactionKind | None = None
    after: Position | None = None
    """The position of the last entry of the previous page."""
    limit: int = 50


@dataclass(frozen=True, slots=True)
class KeyWindow:
    """A key's ledger rows created in ``[start, end)``."""

    key_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class KeySpend:
    """A key's spend over a window, whole or for one model."""

    model: str | None
    credits: int
    requests: int
    """Charged requests (``charged``)."""


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """A key's requests of one day (in the report's time zone), one model, or both."""

    day: str | None
    """``YYYY-MM-DD`` when grouping by day."""
    model: str | None
    credits: int
    prompt_tokens: int
    completion_tokens: int
    total: int
    charged: int
    succeeded: int
    """Rows with status ``ok``; every other status (``error``, ``cancelled``, ``abandoned``) failed."""


@dataclass(frozen=True, slots=True)
class LogQuery:
    window: KeyWindow
    models: tuple[str, ...] = ()
    """Any of these models (exact ids); empty: every model."""
    succeeded: bool | None = None
    """``True``: only ``ok`` rows, ``False``: only the others, ``None``: both."""
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class LogRow:
    created_at: datetime
    request_id: str
    """The ledger's id for the request (its reservation's), the ``reference`` of its charge."""
    model: str
    status: str
    credits: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class LatencySample:
    """A successful request of the latency window."""

    model: str
    latency_ms: int
    completion_tokens: int


Grouping = Literal["day", "model", "day,model"]


class Reports(Protocol):
    async def transactions(self, query: TransactionQuery) -> list[Transaction]:
        """Newest first, at most ``query.limit``."""

    async def key_spend(self, window: KeyWindow) -> tuple[KeySpend, list[KeySpend]]:
        """The key's whole spend in the window, and its spend per model (most credits first)."""

    async def usage_groups(self, window: KeyWindow, group_by: Grouping, tz: str) -> list[UsageGroup]:
        """The key's rows grouped as asked, days cut at midnight in ``tz`` (an IANA zone name);
        ordered by day, then by credits (most first)."""

    async def request_log(self, query: LogQuery) -> tuple[list[LogRow], int]:
        """A page of the key's rows, newest first, and how many rows match in all."""

    async def latency_samples(self, since: datetime, limit: int) -> list[LatencySample]:
        """Successful requests of every account since ``since``, newest first, at most ``limit``
        (walked back from the newest row, so the cost stays bounded however long the ledger)."""


def day_bounds(start: datetime, end: datetime, tz: str) -> list[tuple[str, datetime, datetime]]:
    """The days of ``tz`` that ``[start, end)`` touches, each as its date and its UTC bounds."""
    zone = ZoneInfo(tz)
    day = start.astimezone(zone).date()
    out: list[tuple[str, datetime, datetime]] = []
    while True:
        lo = datetime.combine(day, time(), zone).astimezone(UTC)
        if lo >= end:
            return out
        following = day + timedelta(days=1)
        out.append((day.isoformat(), lo, datetime.combine(following, time(), zone).astimezone(UTC)))
        day = following


def fold(rows: list[UsageGroup], group_by: Grouping) -> list[UsageGroup]:
    """``rows`` per (day, model) merged into the groups asked for, by day (oldest first), then
    most credits first."""
    by_day, by_model = "day" in group_by, "model" in group_by
    merged: dict[tuple[str | None, str | None], list[int]] = {}
    for r in rows:
        sums = merged.setdefault((r.day if by_day else None, r.model if by_model else None), [0] * 6)
        for i, value in enumerate((r.credits, r.prompt_tokens, r.completion_tokens, r.total, r.charged, r.succeeded)):
            sums[i] += value
    groups = [UsageGroup(day, model, *sums) for (day, model), sums in merged.items()]
    return sorted(groups, key=lambda g: (g.day or "", -g.credits, g.model or ""))


def spend_of(rows: Sequence[Sequence[Any]]) -> tuple[KeySpend, list[KeySpend]]:
    """The whole and the per-model spend from (model, credits, charged requests) rows; a model
    with no charged request is left out of the breakdown."""
    models = [KeySpend(str(m), int(c), int(n)) for m, c, n in rows if n]
    models.sort(key=lambda s: (-s.credits, -s.requests, s.model or ""))
    whole = KeySpend(None, sum(int(c) for _, c, _ in rows), sum(int(n) for _, _, n in rows))
    return whole, models
