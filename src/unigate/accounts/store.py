"""The accounts store interface: keys, balances, reservations and the usage ledger.

Balances are integer credits. A request first *reserves* its worst case (the balance drops at
once, so concurrent requests cannot all pass a check-then-record test), then *settles* to the
actual cost: the reservation row goes, the difference returns to the balance and one usage row
is written, in one transaction. Reservations left behind by a crashed process expire and are
released by ``release_expired``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["ApiKey", "Reservation", "Settlement", "Store"]


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


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    account_id: int
    key_id: int
    amount: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a finished (or failed, or abandoned) request cost, for the usage ledger."""

    model: str
    credits: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    status: str
    """``ok``, ``error``, ``cancelled``."""


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def authenticate(self, key: str) -> ApiKey | None:
        """The enabled key whose hash matches, else ``None``."""

    async def check_management_key(self, key: str) -> bool: ...

    async def ensure_management_key(self, key: str | None) -> str | None:
        """Install ``key`` (or a new one if none is stored yet); returns a newly generated key
        so that it can be shown once, else ``None``."""

    async def create_account(self, *, name: str | None, credits: int) -> int: ...

    async def create_key(self, *, account_id: int, name: str | None, key: str | None = None) -> tuple[ApiKey, str]:
        """A new key on the account; returns it with the plaintext, shown only now."""

    async def balance(self, account_id: int) -> int: ...

    async def add_credits(self, account_id: int, credits: int) -> int: ...

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float) -> Reservation | None:
        """Take ``amount`` from the balance if it covers it; ``None`` if it does not."""

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        """Replace the reservation by the actual cost and write the usage row, exactly once."""

    async def release_expired(self, now: datetime | None = None) -> int:
        """Settle reservations whose holder died (status ``abandoned``); returns how many."""
