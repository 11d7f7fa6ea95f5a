"""Times as the SQLite database keeps them: ISO 8601 text in UTC with microseconds
(``2025-01-01T12:00:00.000000+00:00``), which sorts as time does, so that the ledger and the
reservations compare and order them as text."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

__all__ = ["iso", "iso_at", "now"]


def now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat(timespec="microseconds")


@lru_cache(maxsize=4)
def _second(posix_second: int) -> str:
    return datetime.fromtimestamp(posix_second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_at(t: float) -> str:
    """``iso`` of the POSIX time ``t`` without building a datetime, which costs more than the rest
    of a timestamp: the part up to the second changes once a second, so it is cached."""
    second = int(t)
    micros = round((t - second) * 1_000_000)
    if micros == 1_000_000:
        second, micros = second + 1, 0
    return f"{_second(second)}.{micros:06d}+00:00"
