"""Wire schemas of the key endpoints (the service docs' "API Key Management" page).

Request and response fields follow the seeds' order. Our extensions are marked: ``rate_limit``
(requests and tokens per minute), and, on creation, ``account_id`` / ``credits`` to choose the
account the key spends from.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from unigate.accounts.scopes import Scope
from unigate.accounts.spending import Retention, usd_of_credits
from unigate.accounts.store import ApiKey
from unigate.api.requests import MAX_COUNT, MAX_CREDITS, MAX_ID
from unigate.api.wire_time import iso_z
from unigate.catalog.spec import CREDITS_PER_USD

__all__ = ["CreateKeyRequest", "KeyListQuery", "LimitPatch", "RateLimitBody", "UpdateKeyRequest", "key_body"]

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class LimitBody(BaseModel):
    """``limit``: a spending limit for the key."""

    model_config = _STRICT

    retention: Retention = "no_reset"
    """Limit period: ``day``, ``week`` (from Monday), ``month`` (calendar, UTC) or ``no_reset``."""
    threshold: float = Field(ge=0, le=MAX_CREDITS / CREDITS_PER_USD)
    """Spending limit threshold for the selected period, in USD."""


class LimitPatch(BaseModel):
    """``limit`` in an update: the fields given replace the key's, the others stay."""

    model_config = _STRICT

    retention: Retention | None = None
    threshold: float | None = Field(default=None, ge=0, le=MAX_CREDITS / CREDITS_PER_USD)


class RateLimitBody(BaseModel):
    """unigate extension ``rate_limit``: per-key limits; ``null`` uses the gateway's default."""

    model_config = _STRICT

    rpm: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    """Requests per minute."""
    tpm: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    """Tokens per minute, counted at admission: prompt estimate plus the maximum output."""


class CreateKeyRequest(BaseModel):
    """``POST /v1/keys``."""

    model_config = _STRICT

    name: str | None = Field(default=None, max_length=256)
    """Optional human-readable name of the API key."""
    limit: LimitBody | None = None
    scopes: list[Scope] | None = None
    """The APIs the key may call; absent or empty: all of them."""
    # unigate extensions
    rate_limit: RateLimitBody | None = None
    account_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    """Add the key to this existing account; absent: a new account is created for it."""
    credits: int = Field(default=0, ge=0, le=MAX_CREDITS)
    """Credits to put on the account (1 USD = 2,000,000 credits)."""


class UpdateKeyRequest(BaseModel):
    """``PATCH /v1/keys/{prefix}``: only the fields present change; ``null`` clears ``name``,
    ``limit``, ``scopes`` (all allowed) or ``rate_limit``."""

    model_config = _STRICT

    name: str | None = Field(default=None, max_length=256)
    disabled: bool = False
    """Enable or disable the API key."""
    limit: LimitPatch | None = None
    scopes: list[Scope] | None = None
    # unigate extension
    rate_limit: RateLimitBody | None = None


class KeyListQuery(BaseModel):
    """``GET /v1/keys`` query (unigate extension): only the keys of one account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: int | None = Field(default=None, ge=1, le=MAX_ID)


def key_body(key: ApiKey, *, monthly_usage: int, plaintext: str | None = None) -> dict[str, Any]:
    """A key as the seeds show it; ``key`` (the plaintext) only at creation."""
    body: dict[str, Any] = {
        "name": key.name,
        "disabled": key.disabled,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "limit": None
        if key.limit is None
        else {"retention": key.limit.retention, "threshold": usd_of_credits(key.limit.threshold)},
        "created_at": iso_z(key.created_at),
        "updated_at": iso_z(key.updated_at),
        "monthly_usage": usd_of_credits(monthly_usage),
        # unigate extensions
        "account_id": key.account_id,
        "rate_limit": {"rpm": key.rpm, "tpm": key.tpm},
    }
    if plaintext is not None:
        body["key"] = plaintext
    return body
