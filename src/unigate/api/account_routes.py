"""The routes of the key, billing, usage and account endpoints."""

from __future__ import annotations

from aiohttp import web

from unigate.api.admin.accounts import add_credits, get_account
from unigate.api.admin.keys import create_key, current_key, delete_key, list_keys, update_key
from unigate.api.billing.balance import balance_legacy, billing, billing_detail
from unigate.api.billing.usage import list_usage

__all__ = ["add_account_routes"]


def add_account_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1/keys", create_key)
    router.add_get("/v1/keys", list_keys)
    router.add_patch("/v1/keys/{prefix}", update_key)
    router.add_delete("/v1/keys/{prefix}", delete_key)
    router.add_get("/v1/key", current_key)
    router.add_get("/v1/billing/balance", balance_legacy)
    router.add_get("/v2/billing", billing)
    router.add_get("/v2/billing/detail", billing_detail)
    router.add_get("/v1/usage", list_usage)
    router.add_get("/v1/accounts/{account_id}", get_account)
    router.add_post("/v1/accounts/{account_id}/credits", add_credits)
