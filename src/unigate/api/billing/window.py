"""What ``/v2/usage``, ``/v2/usage/detail`` and ``/v2/logs`` share (the service docs' pages "API Key
Usage" and "Usage Logs"): the time window and the key reported on, and the strict reading of their
query strings.

The window is either ``period`` (``24h``, ``7d``: a positive integer and ``h`` or ``d``, ending
now) or both ``start`` and ``end`` (ISO 8601, UTC when they carry no offset), never both, at most
92 days; rows count when ``start <= created < end``.

The key: any API key reports on itself (``key_prefix`` omitted or its own prefix); naming another
key needs the management key (403 otherwise, whether that key exists or not, so a key learns
nothing of others). The management key has no spend of its own, so it must name a key (400
without ``key_prefix``), and may name any account's key (404 when there is none).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from aiohttp import web
from multidict import MultiMapping

from unigate.accounts.reports import KeyWindow
from unigate.accounts.store import ApiKey, Store
from unigate.api.auth import bearer, require_key
from unigate.errors import InvalidRequest, NotFound, PermissionDenied

__all__ = [
    "MAX_WINDOW",
    "WINDOW_PARAMS",
    "check_params",
    "count_param",
    "key_window",
    "one",
    "parse_time",
    "reported_key",
]

MAX_WINDOW = timedelta(days=92)
WINDOW_PARAMS = frozenset({"period", "start", "end", "key_prefix"})

_PERIOD = re.compile(r"([1-9][0-9]{0,5})([hd])")


def check_params(query: MultiMapping[str], allowed: Collection[str]) -> None:
    """400 naming the first query parameter the endpoint does not know."""
    for name in query:
        if name not in allowed:
            raise InvalidRequest(f"Unrecognized query parameter: {name}.", param=name)


def one(query: MultiMapping[str], name: str) -> str | None:
    """The value of a parameter that may be given once."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise InvalidRequest(f"Give '{name}' at most once.", param=name)
    return values[0] if values else None


def count_param(query: MultiMapping[str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter in ``[low, high]``, ``default`` when absent."""
    raw = one(query, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise InvalidRequest(f"Invalid value for '{name}': {raw!r}; use an integer from {low} to {high}.", param=name)
    return int(raw)


def parse_time(raw: str, param: str) -> datetime:
    """An ISO 8601 instant; one without an offset is UTC."""
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"Invalid value for '{param}': {raw!r} is not an ISO 8601 time.", param=param) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _window(query: MultiMapping[str], now: datetime) -> tuple[datetime, datetime]:
    period, start, end = one(query, "period"), one(query, "start"), one(query, "end")
    if period is not None:
        if start is not None or end is not None:
            raise InvalidRequest("Provide either 'period' or both 'start' and 'end', never both.", param="period")
        match = _PERIOD.fullmatch(period)
        if match is None:
            raise InvalidRequest(
                f"Invalid value for 'period': {period!r}; use a positive number of hours or days, as '24h' or '7d'.",
                param="period",
            )
        count, unit = int(match[1]), match[2]
        length = timedelta(hours=count) if unit == "h" else timedelta(days=count)
        if length > MAX_WINDOW:
            raise InvalidRequest("The window cannot exceed 92 days.", param="period")
        return now - length, now
    if start is None or end is None:
        missing = "start" if start is None else "end"
        raise InvalidRequest("Provide either 'period' or both 'start' and 'end'.", param=missing)
    begin, finish = parse_time(start, "start"), parse_time(end, "end")
    if finish < begin:
        raise InvalidRequest("'end' must not be earlier than 'start'.", param="end")
    if finish - begin > MAX_WINDOW:
        raise InvalidRequest("The window cannot exceed 92 days.", param="end")
    return begin, finish


async def reported_key(request: web.Request, store: Store) -> tuple[ApiKey, str | None]:
    """The key to report on, and the ``key_prefix`` asked for (``None`` when omitted)."""
    prefix = one(request.query, "key_prefix")
    if await store.check_management_key(bearer(request)):
        if prefix is None:
            raise InvalidRequest(
                "The management key has no usage of its own: name the key to report on with 'key_prefix'.",
                param="key_prefix",
            )
        key = await store.get_key(prefix)
        if key is None:
            raise NotFound(f"There is no API key with the prefix {prefix!r}.", code="key_not_found")
        return key, prefix
    key = await require_key(request, store, fresh=True)
    if prefix is not None and prefix != key.prefix:
        raise PermissionDenied(
            "An API key can report only on itself; reporting on another key needs the management key.",
            code="management_key_required",
        )
    return key, prefix


async def key_window(request: web.Request, store: Store) -> tuple[KeyWindow, str | None]:
    """The key and window a usage or logs request asks about, and the ``key_prefix`` it named."""
    key, prefix = await reported_key(request, store)
    start, end = _window(request.query, datetime.now(UTC))
    return KeyWindow(key.id, start, end), prefix
