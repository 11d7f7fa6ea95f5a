"""The stored responses' own endpoints (``core/response_flow.py`` keeps them):
``GET /v1/responses/{id}``, ``DELETE /v1/responses/{id}``, ``POST /v1/responses/{id}/cancel`` and
``GET /v1/responses/{id}/input_items`` (OpenAI's list: ``after``, ``limit``, ``order``), with their
aliases without ``/v1``. Each needs the ``model:responses`` scope and answers only the account
that created the response; anything else is 404, in OpenAI's shape.

A response's input items are every item its model read besides the instructions: the input and
output items of the responses it continued, oldest first, then its own input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import RESPONSES, STORE
from unigate.core.responses import StoredResponse
from unigate.errors import InvalidRequest, UnsupportedParameter

__all__ = ["add_stored_routes", "context_items", "stored_object"]

MAX_LIMIT = 100


def stored_object(row: StoredResponse) -> dict[str, Any]:
    """The ``response`` object of a stored row: its body, with the row's status (and error)."""
    body = dict(row.body)
    body["status"] = row.status
    if row.error is not None:
        body["error"] = dict(row.error)
    return body


def context_items(chain: Sequence[StoredResponse]) -> list[dict[str, Any]]:
    """The items a response continuing ``chain`` reads before its own input."""
    items: list[dict[str, Any]] = []
    for row in chain:
        items += [dict(item) for item in row.input_items]
        items += [dict(item) for item in row.body.get("output") or ()]
    return items


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def get_response(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    if request.query.get("stream", "false").lower() == "true":
        raise UnsupportedParameter("Streaming a stored response is not supported; poll it.", param="stream")
    return _json(stored_object(await request.app[RESPONSES].find(request.match_info["id"], key)))


async def delete_response(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    response_id = request.match_info["id"]
    await request.app[RESPONSES].delete(response_id, key)
    return _json({"id": response_id, "object": "response", "deleted": True})


async def cancel_response(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    return _json(stored_object(await request.app[RESPONSES].cancel(request.match_info["id"], key)))


async def list_input_items(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.", param="limit")
    chain = await request.app[RESPONSES].chain(request.match_info["id"], key)
    items = context_items(chain[:-1]) + [dict(item) for item in chain[-1].input_items]
    if order == "desc":
        items.reverse()
    after = request.query.get("after")
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise InvalidRequest(f"No input item with the id {after!r} in this response.", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return _json(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


def add_stored_routes(router: web.UrlDispatcher) -> None:
    for prefix in ("/v1", ""):
        router.add_get(prefix + "/responses/{id}", get_response)
        router.add_delete(prefix + "/responses/{id}", delete_response)
        router.add_post(prefix + "/responses/{id}/cancel", cancel_response)
        router.add_get(prefix + "/responses/{id}/input_items", list_input_items)
