"""The stored response's row (``core/responses.py``) as both stores write and read it, as
``job_rows.py`` does for jobs: its columns in one order, a ``StoredResponse`` as the values of an
``INSERT``, a row back. JSON columns travel as text both ways (asyncpg hands ``jsonb`` over as
text), booleans as Python ``bool`` (SQLite gives back 0 or 1)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from unigate.core.responses import ResponseStatus, StoredResponse

__all__ = ["COLUMNS", "JSON_COLUMNS", "RUNNING_SQL", "dump", "response_from_row", "response_values"]

COLUMNS: tuple[str, ...] = (
    "id",
    "account_id",
    "key_id",
    "model",
    "status",
    "input_items",
    "body",
    "created",
    "expires",
    "previous_id",
    "background",
    "error",
    "reservation_id",
    "reserved",
    "lease_owner",
    "lease_until",
    "ended",
)
"""Every field of ``StoredResponse``, in the order ``response_values`` gives."""

JSON_COLUMNS = frozenset({"input_items", "body", "error"})

RUNNING_SQL = "status IN ('queued', 'in_progress')"
"""``core.responses.RUNNING`` in SQL."""


def dump(value: Mapping[str, Any] | Sequence[Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def response_values(row: StoredResponse) -> tuple[Any, ...]:
    """``row`` as the values of ``COLUMNS``."""
    return (
        row.id,
        row.account_id,
        row.key_id,
        row.model,
        row.status,
        dump(list(row.input_items)),
        dump(row.body),
        float(row.created),
        float(row.expires),
        row.previous_id,
        bool(row.background),
        dump(row.error),
        row.reservation_id,
        row.reserved,
        row.lease_owner,
        float(row.lease_until),
        None if row.ended is None else float(row.ended),
    )


def response_from_row(row: Iterable[Any]) -> StoredResponse:
    """A row of ``COLUMNS`` (a SQLite tuple or an asyncpg record) as a ``StoredResponse``."""
    value = dict(zip(COLUMNS, row, strict=True))
    return StoredResponse(
        id=value["id"],
        account_id=int(value["account_id"]),
        key_id=int(value["key_id"]),
        model=value["model"],
        status=cast(ResponseStatus, value["status"]),
        input_items=_load(value["input_items"]),
        body=_load(value["body"]),
        created=float(value["created"]),
        expires=float(value["expires"]),
        previous_id=value["previous_id"],
        background=bool(value["background"]),
        error=_load(value["error"]),
        reservation_id=value["reservation_id"],
        reserved=int(value["reserved"]),
        lease_owner=value["lease_owner"],
        lease_until=float(value["lease_until"]),
        ended=None if value["ended"] is None else float(value["ended"]),
    )
