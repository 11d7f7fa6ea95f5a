"""``GET /v1/usage``: the usage ledger, one row per request that reserved credits (a unigate
endpoint; the seeds document none).

With an API key: the rows of that key. With the management key: every row, or those of one
``account_id`` or key (``key``: its prefix). Newest first, ``limit`` rows a page (default 100, at
most 1000); ``after`` takes the ``id`` of the last row of the previous page, and ``has_more``
says whether there is a next one.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from unigate.accounts.spending import usd_of_credits
from unigate.accounts.store import UsageQuery, UsageRow
from unigate.api.auth import bearer, require_key
from unigate.api.context import STORE
from unigate.api.requests import validate
from unigate.api.wire_time import iso_z
from unigate.errors import InvalidRequest, PermissionDenied

__all__ = ["UsageParams", "list_usage", "usage_item"]


class UsageParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=100, ge=1, le=1000)
    after: int | None = Field(default=None, ge=1)
    """The ``id`` of the last row of the previous page."""
    account_id: int | None = Field(default=None, ge=1)
    """Management key only: the rows of this account."""
    key: str | None = Field(default=None, min_length=1, max_length=64)
    """Management key only: the rows of the key with this prefix."""


def usage_item(row: UsageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "usage",
        "created_at": iso_z(row.created_at),
        "key_prefix": row.key_prefix,
        "account_id": row.account_id,
        "model": row.model,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.prompt_tokens + row.completion_tokens,
        "credits_used": row.credits,
        "usd_spent": usd_of_credits(row.credits),
        "latency_ms": row.latency_ms,
        "status": row.status,
    }


async def list_usage(request: web.Request) -> web.Response:
    store = request.app[STORE]
    admin = await store.check_management_key(bearer(request))
    key = None if admin else await require_key(request, store, fresh=True)
    params = validate(UsageParams, dict(request.query))
    if key is not None:
        if params.account_id is not None or params.key is not None:
            param = "account_id" if params.account_id is not None else "key"
            raise PermissionDenied(f"Only the management key can filter by '{param}'.", code="management_key_required")
        query = UsageQuery(key_id=key.id, after=params.after, limit=params.limit + 1)
    else:
        key_id = None
        if params.key is not None:
            found = await store.get_key(params.key)
            if found is None:
                raise InvalidRequest(f"There is no API key with the prefix {params.key!r}.", param="key")
            key_id = found.id
        query = UsageQuery(account_id=params.account_id, key_id=key_id, after=params.after, limit=params.limit + 1)
    rows = await store.usage(query)
    body = {
        "object": "list",
        "data": [usage_item(r) for r in rows[: params.limit]],
        "has_more": len(rows) > params.limit,
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")
