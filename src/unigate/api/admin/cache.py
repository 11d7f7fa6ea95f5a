"""Invalidating the response cache with the management key: ``POST /v1/cache/invalidate`` with
any of ``account_id`` (that account's entries), ``key_prefix`` (an API key's: its account's
entries, which its keys share), ``model`` (a model's, by its catalog id) and ``key`` (one entry,
as ``x-unigate-cache-key`` named it); given together, an entry must match all. Answers
``{"deleted": N}``. Entries shared between accounts (``scope = "global"``) are reached by model
or key only."""

from __future__ import annotations

from contextlib import suppress

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from unigate.api.auth import require_management_key
from unigate.api.context import CACHE, STORE
from unigate.api.requests import MAX_ID, read_json, validate
from unigate.core.response_cache import account_scope
from unigate.errors import InvalidRequest, ModelNotFound, NotFound

__all__ = ["Invalidate", "invalidate_cache"]


class Invalidate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    account_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    key_prefix: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=300)
    key: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}(\.s)?$")


async def invalidate_cache(request: web.Request) -> web.Response:
    await require_management_key(request, request.app[STORE])
    body = validate(Invalidate, await read_json(request))
    if body.account_id is None and body.key_prefix is None and body.model is None and body.key is None:
        raise InvalidRequest(
            "Name what to invalidate: 'account_id', 'key_prefix', 'model' or 'key'.", param="account_id"
        )
    account = body.account_id
    if body.key_prefix is not None:
        api_key = await request.app[STORE].get_key(body.key_prefix)
        if api_key is None:
            raise NotFound(f"No key has the prefix {body.key_prefix!r}.", param="key_prefix", code="key_not_found")
        if account is not None and account != api_key.account_id:
            raise InvalidRequest("'key_prefix' names a key of another account than 'account_id'.", param="key_prefix")
        account = api_key.account_id
    cached = request.app.get(CACHE)
    deleted = 0
    if cached is not None:
        scope = None if account is None else account_scope(account)
        model = body.model
        if model is not None:
            with suppress(ModelNotFound):  # a model gone from the catalog may still have entries
                model = cached.gateway.catalog.resolve(model).id
        deleted = await cached.backend.invalidate(scope=scope, model=model, key=body.key)
    return web.Response(body=orjson.dumps({"deleted": deleted}), content_type="application/json")
