"""The accounts store interface: keys, balances, reservations and the usage ledger.

Balances live on accounts, in integer credits; an account holds one or more keys. A request first
*reserves* its worst case (the balance drops at once, so concurrent requests cannot all pass a
check-then-record test), then *settles* to the actual cost: the reservation row goes, the
difference returns to the balance and one usage row is written, in one transaction. The
reservation row is the token that makes settlement happen once. The same transaction that
reserves also checks, against the database rather than any cache, that the key is still enabled
and that its spending limit covers the reservation.

Reservations held by a live process are extended (``extend_reservations``) while it works on
them; those left behind by a process that died expire and are released by ``release_expired``,
which writes their usage row (status ``abandoned``), so no request leaves the ledger without one.

Two implementations: ``storage/sqlite/store.py`` (embedded, the default) and
``storage/postgres/store.py`` (shared by several gateway processes).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from unigate.accounts.console_views import ConsoleViews
from unigate.accounts.reports import CreditKind, Reports
from unigate.accounts.spending import SpendingLimit
from unigate.accounts.usage import UsageQuery, UsageRow
from unigate.primitives.records import record

__all__ = [
    "UNSET",
    "ApiKey",
    "KeyChanges",
    "KeySettings",
    "Refusal",
    "Reservation",
    "Settlement",
    "Store",
    "Unset",
    "UsageQuery",
    "UsageRow",
]


class Unset(enum.Enum):
    UNSET = "unset"


UNSET = Unset.UNSET
"""A field of ``KeyChanges`` that the update leaves as it is."""


@dataclass(frozen=True, slots=True)
class KeySettings:
    """What the owner of a key chooses besides its name: the seeds' settings plus our rate limits."""

    scopes: tuple[str, ...] = ()
    """Empty: every API is allowed (``accounts/scopes.py``)."""
    limit: SpendingLimit | None = None
    rpm: int | None = None
    """Requests per minute; ``None``: the gateway's default."""
    tpm: int | None = None
    """Tokens per minute (prompt estimate + ``max_tokens`` at admission); ``None``: the default."""


@dataclass(frozen=True, slots=True)
class KeyChanges:
    """A partial update of a key (``PATCH /v1/keys/{prefix}``); ``UNSET`` fields stay."""

    name: str | Unset | None = UNSET
    disabled: bool | Unset = UNSET
    scopes: tuple[str, ...] | Unset = UNSET
    limit: SpendingLimit | Unset | None = UNSET
    rpm: int | Unset | None = UNSET
    tpm: int | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    prefix: str
    account_id: int
    name: str | None
    disabled: bool
    scopes: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    limit: SpendingLimit | None = None
    rpm: int | None = None
    tpm: int | None = None


class Refusal(enum.Enum):
    """Why ``Store.reserve`` took nothing."""

    BALANCE = "balance"
    """The account's balance does not cover the amount."""
    KEY_LIMIT = "key_limit"
    """The key's spending limit for the current period does not."""
    KEY_REVOKED = "key_revoked"
    """The key was disabled or deleted (perhaps after a cache said it was valid)."""


@record
class Reservation:
    id: str
    account_id: int
    key_id: int
    amount: int


@record
class Settlement:
    """What a finished (or failed, or abandoned) request cost, for the usage ledger."""

    model: str
    credits: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    status: str
    """``ok``, ``error``, ``cancelled`` (by the client), ``abandoned`` (its process died)."""


class Store(Protocol):
    failures: tuple[type[Exception], ...]
    """What this store raises when it cannot answer (its database down, unreachable or failing),
    as opposed to a bug: the API answers 503 ``store_unavailable`` for these, and a settlement
    that fails with one is kept and tried again (``Gateway.retry_unsettled``)."""

    async def open(self) -> None:
        """Connect and bring the schema up to date (safe when several processes start at once)."""

    async def close(self) -> None: ...

    @property
    def change_counter(self) -> Callable[[], int] | None:
        """What tells this process that another one wrote to the database, so that the key cache
        may keep lookups without Redis (``accounts/keycache.py``): a function whose value changes
        whenever another connection commits, cheap enough to read often; ``None`` where the store
        has no such signal (then only Redis's key-change channel lets a process cache keys)."""

    @property
    def console(self) -> ConsoleViews:
        """The web console's sessions and ledger reports, in this store's database."""

    @property
    def reports(self) -> Reports:
        """The ledger as the service's account endpoints read it (``accounts/reports.py``)."""

    async def authenticate(self, key: str) -> ApiKey | None:
        """The enabled, undeleted key whose hash matches, else ``None``. Never cached."""

    async def check_management_key(self, key: str) -> bool: ...

    async def ensure_management_key(self, key: str | None) -> str | None:
        """Install ``key`` (or a new one if none is stored yet); returns a newly generated key
        so that it can be shown once, else ``None``."""

    async def create_account(self, *, name: str | None, credits: int) -> int: ...

    async def create_key(
        self, *, account_id: int, name: str | None, key: str | None = None, settings: KeySettings | None = None
    ) -> tuple[ApiKey, str]:
        """A new key on the account; returns it with the plaintext, shown only now.
        ``LookupError`` if there is no such account, ``ValueError`` if ``key``'s prefix is taken."""

    async def get_key(self, prefix: str) -> ApiKey | None:
        """The key (enabled or not) with this prefix, unless deleted."""

    async def list_keys(self, *, account_id: int | None = None) -> list[ApiKey]:
        """Undeleted keys, oldest first."""

    async def update_key(self, prefix: str, changes: KeyChanges) -> ApiKey | None:
        """Apply ``changes``; ``None`` if there is no such (undeleted) key."""

    async def delete_key(self, prefix: str) -> bool:
        """Delete the key for good (its ledger rows stay); ``False`` if there was none."""

    async def monthly_usage(self, key_ids: Sequence[int]) -> dict[int, int]:
        """Credits each key spent in the current calendar month (UTC)."""

    async def balance(self, account_id: int) -> int:
        """``LookupError`` if there is no such account."""

    async def add_credits(
        self, account_id: int, credits: int, *, kind: CreditKind = "ADJUSTMENT", reference: str | None = None
    ) -> int:
        """Add (or, negative, remove) credits; returns the new balance. ``LookupError`` if there
        is no such account, ``ValueError`` if the balance would fall below zero. The change is
        recorded in the account's ledger as a credit entry of ``kind`` with ``reference``."""

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float, model: str = "") -> Reservation | Refusal:
        """Take ``amount`` from the balance if the account and the key's limit cover it."""

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        """Replace the reservation by the actual cost and write the usage row, exactly once."""

    async def extend_reservations(self, ids: Sequence[str], ttl_s: float) -> None:
        """Push back the expiry of reservations whose requests are still running."""

    async def release_expired(self, now: datetime | None = None) -> int:
        """Settle reservations whose holder died (status ``abandoned``); returns how many."""

    async def usage(self, query: UsageQuery) -> list[UsageRow]: ...
