"""The routes of the service's own endpoints: keys, billing and the ledger, usage, request logs,
accounts, and the models' measured latencies."""

from __future__ import annotations

from aiohttp import web

from unigate.api.admin.accounts import add_credits, get_account
from unigate.api.admin.cache import invalidate_cache
from unigate.api.admin.keys import create_key, current_key, delete_key, list_keys, update_key
from unigate.api.billing.balance import balance_legacy, billing, billing_detail
from unigate.api.billing.key_usage import key_usage, key_usage_detail
from unigate.api.billing.logs import request_logs
from unigate.api.billing.transactions import transactions
from unigate.api.billing.usage import list_usage
from unigate.api.catalog.metrics import model_metrics

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
    router.add_get("/v2/billing/transactions", transactions)
    router.add_get("/v2/usage", key_usage)
    router.add_get("/v2/usage/detail", key_usage_detail)
    router.add_get("/v2/logs", request_logs)
    router.add_get("/models/metrics", model_metrics)
    router.add_get("/v1/usage", list_usage)
    router.add_get("/v1/accounts/{account_id}", get_account)
    router.add_post("/v1/accounts/{account_id}/credits", add_credits)
    router.add_post("/v1/cache/invalidate", invalidate_cache)
