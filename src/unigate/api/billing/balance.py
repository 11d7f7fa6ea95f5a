"""The balance endpoints (the service docs' "Account Balance" page), for the calling API key's account.

``GET /v1/billing/balance`` (legacy) reports credits; ``GET /v2/billing`` and
``GET /v2/billing/detail`` report USD (1 USD = 2,000,000 credits). The balance is what is left
to spend: credits reserved by requests in progress are already taken from it. There is no
automatic top-up in a self-hosted gateway, so it is always reported as disabled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from unigate.accounts.spending import usd_of_credits
from unigate.api.auth import require_key
from unigate.api.context import SETTINGS, STORE
from unigate.api.wire_time import iso_z

__all__ = ["balance_legacy", "billing", "billing_detail"]


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def _balance(request: web.Request) -> tuple[int, int]:
    store = request.app[STORE]
    key = await require_key(request, store, fresh=True)
    return key.account_id, await store.balance(key.account_id)


def _status(balance: int, threshold: int) -> tuple[str, str]:
    """``status`` and ``statusExplanation``. The seeds show only ``current``; ``low`` and
    ``depleted`` are ours, for the states the seeds' ``lowBalance`` flag implies."""
    if balance <= 0:
        return "depleted", "The balance is used up; requests are refused until credits are added"
    if balance < threshold:
        return "low", "The balance is below the low-balance threshold"
    return "current", "Balance is current and up to date"


async def balance_legacy(request: web.Request) -> web.Response:
    """``GET /v1/billing/balance``: the balance in credits."""
    _, balance = await _balance(request)
    threshold = request.app[SETTINGS].low_balance_threshold
    status, explanation = _status(balance, threshold)
    return _json(
        {
            "balance": balance,
            "lowBalance": balance < threshold,
            "lowBalanceThreshold": threshold,
            "lastUpdated": iso_z(datetime.now(UTC)),
            "autoDebitStatus": "disabled",
            "status": status,
            "statusExplanation": explanation,
        }
    )


async def billing(request: web.Request) -> web.Response:
    """``GET /v2/billing``: the balance in USD."""
    _, balance = await _balance(request)
    return _json({"current_balance": usd_of_credits(balance), "currency": "USD"})


async def billing_detail(request: web.Request) -> web.Response:
    """``GET /v2/billing/detail``: the balance and the (always disabled) top-up settings.
    ``user_id`` is the account id; ``email`` is left out: accounts have none."""
    account_id, balance = await _balance(request)
    return _json(
        {
            "user_id": account_id,
            "current_balance": usd_of_credits(balance),
            "currency": "USD",
            "autotopup_settings": {"is_enabled": False, "threshold": 0, "amount": 0, "currency": "USD"},
        }
    )
