"""Account credits over HTTP, with the management key (unigate endpoints, like ``unigate credits``):
``GET /v1/accounts/{account_id}`` and ``POST /v1/accounts/{account_id}/credits``
(``{"credits": N}``, negative to take credits back; ``type`` and ``reference_id`` say what it was,
for the account's ledger: ``ADJUSTMENT`` by default)."""

from __future__ import annotations

from typing import Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from unigate.accounts.spending import usd_of_credits
from unigate.api.auth import require_management_key
from unigate.api.context import STORE
from unigate.api.requests import MAX_CREDITS, MAX_ID, read_json, validate
from unigate.errors import InvalidRequest, NotFound

__all__ = ["AddCredits", "add_credits", "get_account"]


class AddCredits(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    credits: int = Field(ge=-MAX_CREDITS, le=MAX_CREDITS)
    """Credits to add (1 USD = 2,000,000); negative to remove."""
    type: Literal["PAYMENT", "BONUS", "REFUND", "ADJUSTMENT"] = "ADJUSTMENT"
    """What the change is, as the account's ledger (``GET /v2/billing/transactions``) shows it."""
    reference_id: str | None = Field(default=None, min_length=1, max_length=200)
    """The operator's handle for it (a payment's id, say), shown as the entry's ``reference_id``."""


def _account_id(request: web.Request) -> int:
    raw = request.match_info["account_id"]
    # ASCII digits only ("²" is a digit to isdigit, not to int) and within the store's 64-bit ids.
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise NotFound(f"There is no account {raw!r}.", code="account_not_found")
    return int(raw)


def _account(account_id: int, balance: int) -> web.Response:
    body = {"data": {"account_id": account_id, "balance": balance, "balance_usd": usd_of_credits(balance)}}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def get_account(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await require_management_key(request, store)
    account_id = _account_id(request)
    try:
        return _account(account_id, await store.balance(account_id))
    except LookupError:
        raise NotFound(f"There is no account {account_id}.", code="account_not_found") from None


async def add_credits(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await require_management_key(request, store)
    account_id = _account_id(request)
    body = validate(AddCredits, await read_json(request))
    try:
        balance = await store.add_credits(account_id, body.credits, kind=body.type, reference=body.reference_id)
    except LookupError:
        raise NotFound(f"There is no account {account_id}.", code="account_not_found") from None
    except ValueError:
        raise InvalidRequest("The balance cannot fall below zero.", param="credits") from None
    return _account(account_id, balance)
