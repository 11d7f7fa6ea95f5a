"""The Usage page and its CSV export.

What a session sees: with an API key, the rows of that key and its account's balance (as
``GET /v1/usage`` and ``/v1/billing/balance`` answer it); with the management key, every row, or
those of one key, and the balance of all accounts (or of that key's account). Filters: the last
1, 7, 30 or 90 days (UTC), a model, a status; rows are paged by id, newest first.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from unigate.accounts.console_views import Session, UsageFilter
from unigate.accounts.spending import usd_of_credits
from unigate.api.context import STORE
from unigate.console.charts import Bar, columns, rows
from unigate.console.render import page, signed_in
from unigate.console.sessions import CONSOLE_VIEWS

__all__ = ["PERIODS", "STATUSES", "usage_csv", "usage_page"]

PERIODS = (1, 7, 30, 90)
STATUSES = ("ok", "error", "cancelled", "abandoned")
PAGE_ROWS = 50
CSV_MAX_ROWS = 100_000
_CSV_PAGE = 1_000


@dataclass(frozen=True, slots=True)
class _Query:
    days: int
    model: str | None
    status: str | None
    key: str | None
    """Management sessions: the prefix of the key to show."""
    after: int | None


def _query(request: web.Request) -> _Query:
    q = request.query
    days = (
        int(q["days"])
        if q.get("days", "").isascii() and q.get("days", "").isdigit() and int(q["days"]) in PERIODS
        else 7
    )
    status = q.get("status") if q.get("status") in STATUSES else None
    after = int(q["after"]) if q.get("after", "").isdigit() else None
    return _Query(days, q.get("model") or None, status, q.get("key") or None, after)


async def _scope(request: web.Request, session: Session, query: _Query) -> tuple[UsageFilter, int | None]:
    """The ledger filter of this session and query, with the account whose balance to show
    (``None``: every account)."""
    store = request.config_dict[STORE]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=query.days - 1)
    prefix = session.key_prefix if session.kind == "key" else query.key
    if prefix is None:
        return UsageFilter(since=since, model=query.model, status=query.status), None
    key = await store.get_key(prefix)
    if key is None:
        raise web.HTTPNotFound(text=f"There is no API key with the prefix {prefix!r}.")
    return UsageFilter(since=since, key_id=key.id, model=query.model, status=query.status), key.account_id


def _filters(query: _Query, session: Session) -> str:
    """The query string of the page's filters (the CSV export takes the same)."""
    given = {"days": str(query.days), "model": query.model, "status": query.status}
    if session.kind == "management":
        given["key"] = query.key
    return urlencode({k: v for k, v in given.items() if v})


def _day_bars(since: datetime, days: int, totals: dict[str, tuple[int, int]]) -> list[Bar]:
    bars = []
    for i in range(days):
        day = (since + timedelta(days=i)).strftime("%Y-%m-%d")
        credits, requests = totals.get(day, (0, 0))
        title = f"{day}: {credits:,} credits, {requests:,} requests"
        bars.append(Bar(day, day[5:], credits, title))
    return bars


async def usage_page(request: web.Request) -> web.StreamResponse:
    """``GET /console/usage``."""
    session = await signed_in(request)
    query = _query(request)
    where, account_id = await _scope(request, session, query)
    db, store = request.config_dict[CONSOLE_VIEWS], request.config_dict[STORE]
    report = await db.usage_report(where)
    recent = await db.usage_rows(where, after=query.after, limit=PAGE_ROWS + 1)
    if account_id is not None:
        balance, accounts = await store.balance(account_id), 1
    else:
        accounts, balance = await db.total_balance()
    days = _day_bars(where.since, query.days, {d.day: (d.credits, d.requests) for d in report.days})
    by_model = [
        Bar(m.model, m.model, m.credits, f"{m.model}: {m.credits:,} credits, {m.requests:,} requests")
        for m in report.models[:12]
    ]
    # The models to filter by: those of this period, plus the one chosen (it may have no rows).
    models = sorted({m.model for m in report.models} | ({query.model} if query.model else set()))
    keys = await store.list_keys() if session.kind == "management" else []
    return page(
        request,
        "usage.html",
        session=session,
        query=query,
        periods=PERIODS,
        statuses=STATUSES,
        models=models,
        keys=keys,
        report=report,
        balance=balance,
        accounts=accounts,
        account_id=account_id,
        day_chart=columns(days, name="credits-by-day"),
        model_chart=rows(by_model, name="credits-by-model"),
        recent=recent[:PAGE_ROWS],
        next_after=recent[PAGE_ROWS - 1].id if len(recent) > PAGE_ROWS else None,
        csv_query=_filters(query, session),
    )


async def usage_csv(request: web.Request) -> web.StreamResponse:
    """``GET /console/usage.csv``: the rows of the page's filters (every page, newest first, at
    most ``CSV_MAX_ROWS``), streamed."""
    session = await signed_in(request)
    query = _query(request)
    where, _ = await _scope(request, session, query)
    db = request.config_dict[CONSOLE_VIEWS]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="unigate-usage-{stamp}.csv"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(
        [
            "id",
            "created_at",
            "key_prefix",
            "account_id",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "credits_used",
            "usd_spent",
            "latency_ms",
            "status",
        ]
    )
    after, written = query.after, 0
    while written < CSV_MAX_ROWS:
        batch = await db.usage_rows(where, after=after, limit=min(_CSV_PAGE, CSV_MAX_ROWS - written))
        for r in batch:
            out.writerow(
                [
                    r.id,
                    r.created_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    r.key_prefix,
                    r.account_id,
                    r.model,
                    r.prompt_tokens,
                    r.completion_tokens,
                    r.prompt_tokens + r.completion_tokens,
                    r.credits,
                    usd_of_credits(r.credits),
                    r.latency_ms,
                    r.status,
                ]
            )
        await response.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
        written += len(batch)
        if len(batch) < _CSV_PAGE:
            break
        after = batch[-1].id
    await response.write_eof()
    return response
