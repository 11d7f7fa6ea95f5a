"""``GET /v2/logs`` (the service docs' page "Usage Logs"): one row per request of a key in a window,
newest first, failed ones included, from the usage ledger; ``limit`` (1-100, default 50) and
``offset`` page it, ``pagination.total`` counts every matching row.

``model`` and ``status`` are repeated, never split on commas (as the service: ``?model=a,b`` names
one model and matches nothing; ``?status=succeeded,failed`` is a 400). A ``model`` that is an
alias of a catalog model also matches the rows of that model, which the ledger records by id.

What the ledger does not keep is reported as the service reports a missing value: ``request_id``
and ``client_request_id`` are null (the ledger keeps no HTTP request id nor the client's
``X-Client-Request-Id``), ``origin`` is always ``api`` (no playground writes this ledger apart).
``inference_id`` is the ledger's id of the request, the ``reference_id`` of its charge in
``GET /v2/billing/transactions``. Every status but ``ok`` (``error``, ``cancelled``,
``abandoned``) is ``failed``; a failed request is charged nothing, except a stream the client
closed early, which pays for its prompt.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from aiohttp import web

from unigate.accounts.reports import LogQuery, LogRow
from unigate.accounts.spending import usd_of_credits
from unigate.api.billing.window import WINDOW_PARAMS, check_params, count_param, key_window
from unigate.api.context import GATEWAY, STORE
from unigate.api.wire_time import iso_z
from unigate.errors import InvalidRequest, ModelNotFound

__all__ = ["MAX_MODELS", "request_logs"]

MAX_MODELS = 50
MAX_OFFSET = 2**62
"""Past any ledger; an offset must fit the databases' 64-bit integers."""
_STATUSES = {"succeeded": True, "failed": False}


def _models(request: web.Request) -> tuple[str, ...]:
    """The ids to match: each value as given, and the catalog id it is an alias of."""
    names = request.query.getall("model", [])
    if len(names) > MAX_MODELS:
        raise InvalidRequest(f"Give at most {MAX_MODELS} 'model' values.", param="model")
    catalog = request.app[GATEWAY].catalog
    ids: dict[str, None] = {}
    for name in names:
        ids[name] = None
        with contextlib.suppress(ModelNotFound):
            ids[catalog.resolve(name).id] = None
    return tuple(ids)


def _succeeded(request: web.Request) -> bool | None:
    statuses = set()
    for value in request.query.getall("status", []):
        if value not in _STATUSES:
            raise InvalidRequest(
                f"Invalid value for 'status': {value!r}; use 'succeeded' or 'failed' (repeat it for both).",
                param="status",
            )
        statuses.add(_STATUSES[value])
    return statuses.pop() if len(statuses) == 1 else None


def log_item(row: LogRow) -> dict[str, Any]:
    return {
        "created": iso_z(row.created_at),
        "status": "succeeded" if row.status == "ok" else "failed",
        "origin": "api",
        "model": row.model,
        "cost": {"usd": usd_of_credits(row.credits), "credits": row.credits},
        "tokens": {
            "input": row.prompt_tokens,
            "output": row.completion_tokens,
            "total": row.prompt_tokens + row.completion_tokens,
        },
        "request_id": None,
        "inference_id": row.request_id,
        "client_request_id": None,
    }


async def request_logs(request: web.Request) -> web.Response:
    """``GET /v2/logs``."""
    check_params(request.query, WINDOW_PARAMS | {"model", "status", "limit", "offset"})
    store = request.app[STORE]
    window, _ = await key_window(request, store)
    limit = count_param(request.query, "limit", 50, 1, 100)
    offset = count_param(request.query, "offset", 0, 0, MAX_OFFSET)
    query = LogQuery(window, _models(request), _succeeded(request), limit, offset)
    rows, total = await store.reports.request_log(query)
    body = {
        "data": [log_item(r) for r in rows],
        "pagination": {"limit": limit, "offset": offset, "total": total, "has_more": offset + len(rows) < total},
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")
