"""Stored responses of the Responses API (``store: true``, the default, as OpenAI's): the durable
row and its store's protocol. ``response_flow.py`` runs them; the rows live in the accounts
database (``storage/{sqlite,postgres}/responses.py``).

A row keeps what chaining needs: the items given as this turn's ``input`` (normalised to items
with ids) and the ``response`` object as answered, whose ``output`` items are the model's turn;
``previous_id`` links it to the response it continued. The items and the body are the API's wire
JSON, opaque here: ``core`` stores them, the API reads them.

A background response (``background: true``) is a row first (``queued``), run by a task of the
process that created it, which holds the row's lease (renewed while it runs) and the credit
reservation (in ``Gateway.held``). A row whose lease runs out while it is still running lost its
process: any replica's keeper ends it ``failed`` and settles its reservation to nothing (a
second settlement of one reservation is a no-op, whoever comes first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["RUNNING", "ResponseStatus", "ResponseStore", "StoredResponse"]

ResponseStatus = Literal["queued", "in_progress", "completed", "incomplete", "failed", "cancelled"]
"""OpenAI's statuses of a ``response`` object."""

RUNNING: tuple[ResponseStatus, ...] = ("queued", "in_progress")
"""The statuses of a response not yet ended (only a background one is ever stored in them)."""


def _no_body() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One response as its row holds it. Times are Unix seconds."""

    id: str
    account_id: int
    key_id: int
    model: str
    status: ResponseStatus
    input_items: Sequence[Mapping[str, Any]]
    """This turn's input as items with ids (instructions are not items: they are not carried
    over to a chained turn, as OpenAI's are not)."""
    body: Mapping[str, Any] = field(default_factory=_no_body)
    """The ``response`` object as answered (a background one: as it stood when created, until it
    ends); ``status`` and ``error`` of the row win over the body's."""
    created: float = 0.0
    expires: float = 0.0
    """Removed after this (the retention); pushed later while a chain that holds it is used."""
    previous_id: str | None = None
    background: bool = False
    error: Mapping[str, Any] | None = None
    """``{"code", "message"}`` of a response that failed after it was answered (background)."""
    reservation_id: str | None = None
    """A running background response's credit reservation, settled when it ends."""
    reserved: int = 0
    lease_owner: str | None = None
    lease_until: float = 0.0
    ended: float | None = None

    @property
    def running(self) -> bool:
        return self.status in RUNNING


class ResponseStore(Protocol):
    """The stored responses, in the accounts database. Every method raises the store's
    ``failures`` when the database cannot answer; every read by id takes the account, and another
    account's row is the same as none."""

    async def create_response(self, row: StoredResponse) -> None: ...

    async def get_response(self, response_id: str, account_id: int) -> StoredResponse | None: ...

    async def response_chain(self, response_id: str, account_id: int, *, limit: int) -> list[StoredResponse]:
        """The response and those it continued, following ``previous_id`` (the account's rows
        only, at most ``limit``), oldest first; empty when the response is not found. The oldest
        has a ``previous_id`` still when a link is gone (deleted, expired) or past ``limit``."""
        ...

    async def keep_responses(self, ids: Sequence[str], *, until: float) -> None:
        """Push the ``expires`` of ``ids`` to ``until`` at least (a chain in use stays)."""
        ...

    async def delete_response(self, response_id: str, account_id: int) -> bool: ...

    async def start_response(self, response_id: str, owner: str, *, now: float) -> bool:
        """``queued`` to ``in_progress`` if ``owner`` holds the row; whether it did."""
        ...

    async def finish_response(
        self,
        response_id: str,
        owner: str,
        *,
        status: ResponseStatus,
        body: Mapping[str, Any] | None,
        error: Mapping[str, Any] | None,
        now: float,
    ) -> bool:
        """End a running row that ``owner`` holds (``body`` replaces the stored one when given);
        whether it did: not if it was cancelled, deleted or ended by a keeper meanwhile."""
        ...

    async def cancel_response(self, response_id: str, account_id: int, *, now: float) -> bool:
        """``cancelled`` if it is a running background response of the account; whether it was."""
        ...

    async def renew_responses(self, owner: str, ids: Sequence[str], *, until: float) -> None:
        """Extend the lease of the running rows of ``ids`` that ``owner`` holds."""
        ...

    async def response_statuses(self, ids: Sequence[str]) -> dict[str, ResponseStatus]:
        """The status of each of ``ids`` that still exists."""
        ...

    async def fail_abandoned(self, *, now: float, error: Mapping[str, Any], limit: int = 100) -> list[StoredResponse]:
        """End ``failed`` (with ``error``) up to ``limit`` running rows whose lease has run out;
        the rows ended, whose reservations the caller settles. Two replicas never end one row."""
        ...

    async def remove_responses(self, *, now: float, limit: int = 500) -> int:
        """Delete up to ``limit`` ended rows past their ``expires``; how many."""
        ...
