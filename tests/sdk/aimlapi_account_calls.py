"""The AI/ML API SDK's account calls, run by ``aimlapi_client.py`` in the SDK's own subprocess.

The SDK has no resource for keys or billing (its ``aimlapi/resources`` are OpenAI's, plus its
images, audio, videos and uploads overrides); its README sends users to the client's own HTTP
verbs for such endpoints (``client.get("/foo", cast_to=...)``, "Undocumented endpoints"), which
keep its key, headers and error classes. The service's paths are the ones of the docs' "Service
endpoints" (``/v1/...`` under the SDK's base URL, ``/v2/...`` beside it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aimlapi import AIMLAPI  # type: ignore[import-not-found]

from tests.sdk.aimlapi_chat_calls import raised

__all__ = ["ACCOUNT_CALLS"]


def _root(client: Any) -> str:
    """The service's root: the SDK's base URL without its ``/v1``, for the ``/v2`` paths."""
    return str(client.base_url).rstrip("/").removesuffix("/v1")


def _status(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"body": call()}
    except Exception as exc:
        return raised(exc)


def account(client: Any) -> dict[str, Any]:
    """What the API key itself may read: its own settings and the account's balance."""
    root = _root(client)
    return {
        "key": client.get("/key", cast_to=object),
        "balance": client.get("/billing/balance", cast_to=object),
        "billing": client.get(f"{root}/v2/billing", cast_to=object),
        "detail": client.get(f"{root}/v2/billing/detail", cast_to=object),
        "keys_with_an_api_key": _status(lambda: client.get("/keys", cast_to=object)),
    }


def keys(client: Any, management_key: str) -> dict[str, Any]:
    """The key-management calls with the management key (the docs' examples), and what the
    created key can then do."""
    admin = AIMLAPI(api_key=management_key, max_retries=0)
    body = {"name": "20260202-key-for-llms", "limit": {"retention": "week", "threshold": 25}, "scopes": ["model:chat"]}
    created = admin.post("/keys", body=body, cast_to=object)["data"]
    prefix = created["prefix"]
    listed = [k["prefix"] for k in admin.get("/keys", cast_to=object)["data"]]
    own = AIMLAPI(api_key=created["key"], max_retries=0)
    seen = own.get("/key", cast_to=object)["data"]
    scoped = _status(lambda: own.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input="x"))
    disabled = admin.patch(f"/keys/{prefix}", body={"disabled": True}, cast_to=object)["data"]
    refused = _status(lambda: own.get("/key", cast_to=object))
    deleted = admin.delete(f"/keys/{prefix}", cast_to=object)
    gone = _status(lambda: admin.delete(f"/keys/{prefix}", cast_to=object))
    return {
        "created": created,
        "listed": prefix in listed,
        "seen": seen,
        "scoped": scoped,
        "disabled": disabled["disabled"],
        "refused": refused,
        "deleted": deleted,
        "gone": gone,
    }


def reports(client: Any) -> dict[str, Any]:
    """The account reports of the docs' "Service endpoints": spend, request log and ledger."""
    root = _root(client)
    return {
        "usage": client.get(f"{root}/v2/usage", options={"params": {"period": "24h"}}, cast_to=object),
        "logs": client.get(f"{root}/v2/logs", options={"params": {"period": "24h"}}, cast_to=object),
        "transactions": client.get(f"{root}/v2/billing/transactions", cast_to=object),
    }


ACCOUNT_CALLS: dict[str, Callable[..., dict[str, Any]]] = {"account": account, "keys": keys, "reports": reports}
