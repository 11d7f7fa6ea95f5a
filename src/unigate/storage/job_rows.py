"""The job row (``core/jobs.py``) as both stores write and read it: its columns in one order, a
``Job`` as the values of an ``INSERT``, a row back as a ``Job``, and ``JobChanges`` as the
columns an ``UPDATE`` sets. The SQL itself is each store's (``storage/{sqlite,postgres}/jobs.py``);
what differs between them is only the placeholders and PostgreSQL's ``jsonb`` casts.

JSON columns travel as text both ways (SQLite stores it; asyncpg hands ``jsonb`` over as text),
booleans as Python ``bool`` (SQLite gives back 0 or 1)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from unigate.core.jobs import Job, JobChanges, JobKind, JobStatus, Phase

__all__ = ["COLUMNS", "JSON_COLUMNS", "job_from_row", "job_values", "set_columns"]

COLUMNS: tuple[str, ...] = (
    "id",
    "account_id",
    "key_id",
    "model",
    "kind",
    "request",
    "reservation_id",
    "reserved",
    "created",
    "deadline",
    "status",
    "phase",
    "submitted",
    "upstream_id",
    "upstream_state",
    "charged",
    "result",
    "error",
    "callback_url",
    "callback_attempts",
    "attempts",
    "next_at",
    "lease_owner",
    "lease_until",
    "updated",
    "ended",
    "expires",
)
"""Every field of ``Job``, in the order ``job_values`` gives and ``job_from_row`` reads."""

JSON_COLUMNS = frozenset({"request", "upstream_state", "result", "error"})


def _dump(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def job_values(job: Job) -> tuple[Any, ...]:
    """``job`` as the values of ``COLUMNS``."""
    return (
        job.id,
        job.account_id,
        job.key_id,
        job.model,
        job.kind.value,
        _dump(job.request),
        job.reservation_id,
        job.reserved,
        float(job.created),
        float(job.deadline),
        job.status.value,
        job.phase,
        bool(job.submitted),
        job.upstream_id,
        _dump(job.upstream_state),
        job.charged,
        _dump(job.result),
        _dump(job.error),
        job.callback_url,
        job.callback_attempts,
        job.attempts,
        float(job.next_at),
        job.lease_owner,
        float(job.lease_until),
        float(job.updated),
        None if job.ended is None else float(job.ended),
        None if job.expires is None else float(job.expires),
    )


def job_from_row(row: Iterable[Any]) -> Job:
    """A row of ``COLUMNS`` (a SQLite tuple or an asyncpg record) as a ``Job``."""
    value = dict(zip(COLUMNS, row, strict=True))
    return Job(
        id=value["id"],
        account_id=int(value["account_id"]),
        key_id=int(value["key_id"]),
        model=value["model"],
        kind=JobKind(value["kind"]),
        request=_load(value["request"]),
        reservation_id=value["reservation_id"],
        reserved=int(value["reserved"]),
        created=float(value["created"]),
        deadline=float(value["deadline"]),
        status=JobStatus(value["status"]),
        phase=cast(Phase, value["phase"]),
        submitted=bool(value["submitted"]),
        upstream_id=value["upstream_id"],
        upstream_state=_load(value["upstream_state"]),
        charged=value["charged"],
        result=_load(value["result"]),
        error=_load(value["error"]),
        callback_url=value["callback_url"],
        callback_attempts=int(value["callback_attempts"]),
        attempts=int(value["attempts"]),
        next_at=float(value["next_at"]),
        lease_owner=value["lease_owner"],
        lease_until=float(value["lease_until"]),
        updated=float(value["updated"]),
        ended=value["ended"],
        expires=value["expires"],
    )


def set_columns(changes: JobChanges, *, now: float) -> list[tuple[str, Any]]:
    """The columns ``changes`` sets, with their values; ``updated`` always (to ``now``)."""
    found: list[tuple[str, Any]] = []
    for name, value in (
        ("status", None if changes.status is None else changes.status.value),
        ("phase", changes.phase),
        ("submitted", changes.submitted),
        ("upstream_id", changes.upstream_id),
        ("upstream_state", _dump(changes.upstream_state)),
        ("charged", changes.charged),
        ("result", _dump(changes.result)),
        ("error", _dump(changes.error)),
        ("callback_attempts", changes.callback_attempts),
        ("attempts", changes.attempts),
        ("next_at", None if changes.next_at is None else float(changes.next_at)),
        ("lease_until", None if changes.lease_until is None else float(changes.lease_until)),
        ("ended", None if changes.ended is None else float(changes.ended)),
        ("expires", None if changes.expires is None else float(changes.expires)),
    ):
        if value is not None:
            found.append((name, value))
    if changes.clear_lease:
        # Dropped, whatever lease_until says: the row is free again at next_at.
        found = [(name, value) for name, value in found if name != "lease_until"]
        found += [("lease_owner", None), ("lease_until", 0.0)]
    found.append(("updated", float(now)))
    return found
