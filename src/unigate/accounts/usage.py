"""The usage ledger's records: one row per request that reserved credits, and the query that pages them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["UsageQuery", "UsageRow"]


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One row of the append-only usage ledger: one per request that reserved credits."""

    id: int
    created_at: datetime
    account_id: int
    key_id: int
    key_prefix: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    credits: int
    latency_ms: int
    status: str


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """Newest rows first; ``after`` is the ``id`` of the last row of the previous page."""

    account_id: int | None = None
    key_id: int | None = None
    after: int | None = None
    limit: int = 100
