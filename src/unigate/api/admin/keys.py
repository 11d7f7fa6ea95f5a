"""The key endpoints (the service docs' "API Key Management" page): ``POST/GET /v1/keys``,
``PATCH/DELETE /v1/keys/{prefix}`` with the management key, and ``GET /v1/key`` with the API key
itself. Bodies are wrapped in ``{"data": ...}``. Every change is announced to the other gateway
processes before the answer, so that a key disabled or deleted here stops working at once
everywhere.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from aiohttp import web

from unigate.accounts.spending import SpendingLimit, credits_of_usd
from unigate.accounts.store import UNSET, ApiKey, KeyChanges, KeySettings, Store, Unset
from unigate.api.admin.keys_schema import CreateKeyRequest, KeyListQuery, UpdateKeyRequest, key_body
from unigate.api.auth import require_key, require_management_key
from unigate.api.context import KEYS, STORE
from unigate.api.requests import read_json, validate
from unigate.errors import InvalidRequest, NotFound

__all__ = ["create_key", "current_key", "delete_key", "list_keys", "update_key"]


def _data(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps({"data": data}), content_type="application/json")


async def _body(store: Store, key: ApiKey, plaintext: str | None = None) -> dict[str, Any]:
    usage = await store.monthly_usage([key.id])
    return key_body(key, monthly_usage=usage[key.id], plaintext=plaintext)


def _not_found(prefix: str) -> NotFound:
    return NotFound(f"There is no API key with the prefix {prefix!r}.", code="key_not_found")


async def create_key(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await require_management_key(request, store)
    # Every field is optional: a POST without a body creates a key with the defaults.
    body = validate(CreateKeyRequest, await read_json(request) if request.body_exists else {})
    settings = KeySettings(
        scopes=tuple(dict.fromkeys(body.scopes or ())),
        limit=None if body.limit is None else SpendingLimit(body.limit.retention, credits_of_usd(body.limit.threshold)),
        rpm=body.rate_limit.rpm if body.rate_limit else None,
        tpm=body.rate_limit.tpm if body.rate_limit else None,
    )
    if body.account_id is None:
        account_id = await store.create_account(name=body.name, credits=body.credits)
    else:
        account_id = body.account_id
        try:
            await store.balance(account_id)
            if body.credits:
                await store.add_credits(account_id, body.credits)
        except LookupError:
            raise InvalidRequest(f"There is no account {account_id}.", param="account_id") from None
    key, plaintext = await store.create_key(account_id=account_id, name=body.name, settings=settings)
    return _data(await _body(store, key, plaintext))


async def list_keys(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await require_management_key(request, store)
    query = validate(KeyListQuery, dict(request.query))
    found = await store.list_keys(account_id=query.account_id)
    usage = await store.monthly_usage([k.id for k in found])
    return _data([key_body(k, monthly_usage=usage[k.id]) for k in found])


async def current_key(request: web.Request) -> web.Response:
    store = request.app[STORE]
    key = await require_key(request, store, fresh=True)
    return _data(await _body(store, key))


async def update_key(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await require_management_key(request, store)
    prefix = request.match_info["prefix"]
    body = validate(UpdateKeyRequest, await read_json(request))
    current = await store.get_key(prefix)
    if current is None:
        raise _not_found(prefix)
    given = body.model_fields_set
    changes = KeyChanges(
        name=body.name if "name" in given else UNSET,
        disabled=body.disabled if "disabled" in given else UNSET,
        scopes=tuple(dict.fromkeys(body.scopes or ())) if "scopes" in given else UNSET,
        limit=_limit(current, body) if "limit" in given else UNSET,
        rpm=_rate(body, "rpm"),
        tpm=_rate(body, "tpm"),
    )
    updated = await store.update_key(prefix, changes)
    if updated is None:
        raise _not_found(prefix)
    await request.app[KEYS].changed(prefix)
    return _data(await _body(store, updated))


def _rate(body: UpdateKeyRequest, name: Literal["rpm", "tpm"]) -> int | Unset | None:
    """A rate limit after the update: ``rate_limit: null`` clears both, an absent field stays."""
    if "rate_limit" not in body.model_fields_set:
        return UNSET
    if body.rate_limit is None:
        return None
    if name not in body.rate_limit.model_fields_set:
        return UNSET
    return body.rate_limit.rpm if name == "rpm" else body.rate_limit.tpm


def _limit(current: ApiKey, body: UpdateKeyRequest) -> SpendingLimit | None:
    """The key's limit after the update: the fields given replace the current ones."""
    if body.limit is None:
        return None
    retention = body.limit.retention or (current.limit.retention if current.limit else "no_reset")
    if body.limit.threshold is not None:
        return SpendingLimit(retention, credits_of_usd(body.limit.threshold))
    if current.limit is None:
        raise InvalidRequest("Missing required parameter: 'limit.threshold'.", param="limit.threshold")
    return SpendingLimit(retention, current.limit.threshold)


async def delete_key(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await require_management_key(request, store)
    prefix = request.match_info["prefix"]
    if not await store.delete_key(prefix):
        raise _not_found(prefix)
    await request.app[KEYS].changed(prefix)
    return _data({"prefix": prefix, "deleted": True})
