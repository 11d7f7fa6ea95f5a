"""``GET /v2/billing/transactions`` (the service docs' page "Account Balance"): every movement of
the caller's account balance, newest first: the charges of requests (``MODEL_USAGE``, from the
usage ledger; a request charged nothing moved nothing and is not listed) and the credit entries
(``INIT``: an account's first credits; ``PAYMENT``, ``BONUS``, ``REFUND``, ``ADJUSTMENT``: what the
management key or ``unigate credits`` added or took back). ``CREDITS_EXPIRED`` is accepted as a
filter and never listed: credits here do not expire.

An API key reads its own account's ledger. The management key reads any account's, named with
``account_id`` (a unigate parameter; the service has no management key for this endpoint).

The cursor is the position of the page's last entry (time, source, id), encoded as the service's
samples show it (URL-safe base64 of a small JSON object); any other value is a 400. It carries no
account: the account always comes from the key, so a cursor taken from another account's page
only says where to start in the caller's own ledger.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from unigate.accounts.reports import TRANSACTION_KINDS, Position, Transaction, TransactionQuery
from unigate.accounts.spending import usd_of_credits
from unigate.api.auth import bearer, require_key
from unigate.api.billing.window import check_params, count_param, one, parse_time
from unigate.api.context import STORE
from unigate.api.wire_time import iso_z
from unigate.errors import InvalidRequest

__all__ = ["decode_cursor", "encode_cursor", "transactions"]

_PARAMS = frozenset({"from", "to", "direction", "type", "limit", "cursor", "account_id"})
_DIRECTIONS = ("TOPUP", "CHARGE")


def encode_cursor(p: Position) -> str:
    raw = orjson.dumps({"v": 1, "t": p.at.isoformat(timespec="microseconds"), "s": p.source, "i": p.id})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> Position:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict) or set(data) != {"v", "t", "s", "i"} or data["v"] != 1:
            raise ValueError
        at, source, rid = datetime.fromisoformat(data["t"]), data["s"], data["i"]
        if at.tzinfo is None or source not in (0, 1) or type(rid) is not int or not 0 < rid < 2**63:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidRequest(
            "Invalid value for 'cursor': pass 'pagination.next_cursor' of the previous page as it is.", param="cursor"
        ) from None
    if encode_cursor(Position(at, source, rid)) != cursor:  # accepted only in the form it was issued
        raise InvalidRequest(
            "Invalid value for 'cursor': pass 'pagination.next_cursor' of the previous page as it is.", param="cursor"
        )
    return Position(at, source, rid)


def _item(t: Transaction) -> dict[str, Any]:
    return {
        "created_at": iso_z(t.position.at),
        "direction": t.direction,
        "type": t.kind,
        "amount": {"usd": usd_of_credits(abs(t.credits)), "credits": abs(t.credits)},
        "model": t.model,
        "reference_id": t.reference,
    }


async def _account(request: web.Request) -> int:
    store = request.app[STORE]
    raw = one(request.query, "account_id")
    if await store.check_management_key(bearer(request)):
        if raw is None or not (raw.isascii() and raw.isdigit()):
            raise InvalidRequest("With the management key, name the account with 'account_id'.", param="account_id")
        account_id = int(raw)
        try:
            await store.balance(account_id)
        except LookupError:
            raise InvalidRequest(f"There is no account {raw}.", param="account_id") from None
        return account_id
    key = await require_key(request, store, fresh=True)
    if raw is not None:
        raise InvalidRequest("Only the management key may name an 'account_id'.", param="account_id")
    return key.account_id


def _enum(request: web.Request, name: str, allowed: tuple[str, ...]) -> Any:
    value = one(request.query, name)
    if value is not None and value not in allowed:
        raise InvalidRequest(f"Invalid value for '{name}': {value!r}; use one of {', '.join(allowed)}.", param=name)
    return value


async def transactions(request: web.Request) -> web.Response:
    """``GET /v2/billing/transactions``."""
    check_params(request.query, _PARAMS)
    account_id = await _account(request)
    start, end, cursor = one(request.query, "from"), one(request.query, "to"), one(request.query, "cursor")
    query = TransactionQuery(
        account_id=account_id,
        start=None if start is None else parse_time(start, "from"),
        end=None if end is None else parse_time(end, "to"),
        direction=_enum(request, "direction", _DIRECTIONS),
        kind=_enum(request, "type", TRANSACTION_KINDS),
        after=None if cursor is None else decode_cursor(cursor),
        limit=count_param(request.query, "limit", 50, 1, 100) + 1,
    )
    if query.start is not None and query.end is not None and query.end <= query.start:
        raise InvalidRequest("'to' must be later than 'from'.", param="to")
    entries = await request.app[STORE].reports.transactions(query)
    page = entries[: query.limit - 1]
    more = len(entries) > len(page)
    body = {
        "data": [_item(t) for t in page],
        "pagination": {"next_cursor": encode_cursor(page[-1].position) if more else None, "has_more": more},
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")
