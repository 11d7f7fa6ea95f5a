"""Timestamps on the wire: ISO 8601 in UTC with milliseconds and ``Z``, as the seeds print them
(``2026-02-18T06:59:10.031Z``)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_z"]


def iso_z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
