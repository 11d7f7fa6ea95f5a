"""Per-key spending limits: ``limit: {retention, threshold}`` (the service docs' "API Key Management" page).

``threshold`` is USD on the wire and integer credits inside. ``retention`` is the period after
which the key's spend starts again from zero: calendar ``day``, ISO ``week`` (from Monday) or
``month``, all in UTC, or ``no_reset`` (a lifetime budget). The stores keep, per key, the start of
the current period and what was spent in it, reservations in flight included, and check the limit
in the same transaction that takes the reservation, so concurrent requests cannot all pass it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from unigate.catalog.spec import CREDITS_PER_USD

__all__ = [
    "EPOCH",
    "RETENTIONS",
    "Retention",
    "SpendingLimit",
    "as_retention",
    "credits_of_usd",
    "period_start",
    "usd_of_credits",
]

Retention = Literal["day", "week", "month", "no_reset"]
RETENTIONS: tuple[Retention, ...] = get_args(Retention)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The period start of ``no_reset`` limits (and of keys without a limit)."""


@dataclass(frozen=True, slots=True)
class SpendingLimit:
    retention: Retention
    threshold: int
    """Credits the key may spend per period."""


def as_retention(value: object) -> Retention:
    """A stored retention back to its type (``no_reset`` for anything unknown, the safe reading)."""
    for retention in RETENTIONS:
        if value == retention:
            return retention
    return "no_reset"


def period_start(retention: str | None, now: datetime) -> datetime:
    """The start of the period of ``retention`` that contains ``now`` (UTC)."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if retention == "day":
        return day
    if retention == "week":
        return day - timedelta(days=day.weekday())
    if retention == "month":
        return day.replace(day=1)
    return EPOCH


def credits_of_usd(usd: float) -> int:
    return round(usd * CREDITS_PER_USD)


def usd_of_credits(credits: int) -> float | int:
    """USD for the wire; whole amounts as integers, so that ``25`` stays ``25`` as in the seeds."""
    usd = credits / CREDITS_PER_USD
    return int(usd) if usd.is_integer() else usd
