"""``GET /v2/usage`` and ``GET /v2/usage/detail`` (the service docs' page "API Key Usage"): what a
key spent over a window, from the usage ledger, and per model (``models``) and per day and/or
model (``groups``, with ``group_by``) on ``/detail``.

``requests`` counts charged requests (``accounts/reports.charged``); ``groups`` add token
counts and every request (``requests.total``: failed ones too). Days are cut at midnight in
``tz``, a canonical IANA zone name spelled exactly (UTC by default).
"""

from __future__ import annotations

from typing import Any, get_args
from zoneinfo import available_timezones

import orjson
from aiohttp import web

from unigate.accounts.reports import Grouping, KeySpend, UsageGroup
from unigate.accounts.spending import usd_of_credits
from unigate.api.billing.window import WINDOW_PARAMS, check_params, key_window, one
from unigate.api.context import STORE
from unigate.api.wire_time import iso_z
from unigate.errors import InvalidRequest

__all__ = ["key_usage", "key_usage_detail"]

_GROUPINGS: tuple[Grouping, ...] = get_args(Grouping)
_ZONES = frozenset(available_timezones())


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def _report(request: web.Request, *, detail: bool) -> web.Response:
    check_params(request.query, WINDOW_PARAMS | ({"group_by", "tz"} if detail else set()))
    store = request.app[STORE]
    window, prefix = await key_window(request, store)
    whole, models = await store.reports.key_spend(window)
    body: dict[str, Any] = {
        "api_key_prefix": prefix,
        "start": iso_z(window.start),
        "end": iso_z(window.end),
        "spend": usd_of_credits(whole.credits),
        "currency": "USD",
        "requests": whole.requests,
    }
    if not detail:
        return _json(body)
    body["models"] = [_model(m) for m in models]
    group_by, tz = one(request.query, "group_by"), one(request.query, "tz")
    if group_by is None:
        if tz is not None:
            raise InvalidRequest("'tz' sets the day boundary of group_by=day; give group_by too.", param="tz")
        return _json(body)
    if group_by not in _GROUPINGS:
        raise InvalidRequest(
            f"Invalid value for 'group_by': {group_by!r}; use one of {', '.join(_GROUPINGS)}.", param="group_by"
        )
    if tz is not None and tz not in _ZONES:
        raise InvalidRequest(
            f"Invalid value for 'tz': {tz!r} is not a canonical IANA time zone name (as 'Europe/Berlin').", param="tz"
        )
    groups = await store.reports.usage_groups(window, group_by, tz or "UTC")
    body["groups"] = [_group(g) for g in groups]
    return _json(body)


def _model(m: KeySpend) -> dict[str, Any]:
    return {"model": m.model, "spend": usd_of_credits(m.credits), "requests": m.requests}


def _group(g: UsageGroup) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if g.day is not None:
        out["day"] = g.day
    if g.model is not None:
        out["model"] = g.model
    out["spend"] = usd_of_credits(g.credits)
    out["tokens"] = {
        "input": g.prompt_tokens,
        "output": g.completion_tokens,
        "total": g.prompt_tokens + g.completion_tokens,
    }
    out["requests"] = {
        "total": g.total,
        "charged": g.charged,
        "succeeded": g.succeeded,
        "failed": g.total - g.succeeded,
    }
    return out


async def key_usage(request: web.Request) -> web.Response:
    """``GET /v2/usage``."""
    return await _report(request, detail=False)


async def key_usage_detail(request: web.Request) -> web.Response:
    """``GET /v2/usage/detail``."""
    return await _report(request, detail=True)
