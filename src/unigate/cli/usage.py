"""``unigate usage``: the usage ledger, newest first."""

from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
import typer
from rich.table import Column, Table

from unigate.accounts.store import UsageQuery, UsageRow
from unigate.api.billing.usage import usage_item
from unigate.cli.config import ConfigOpt, fail, opened_store, out, settings_from

__all__ = ["usage"]


def usage(
    key: Annotated[str | None, typer.Option(help="Only the requests of the key with this prefix.")] = None,
    account: Annotated[int | None, typer.Option(help="Only the requests of this account.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many rows.")] = 50,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Show the usage ledger: one row per request (tokens, credits, latency, status)."""
    settings = settings_from(config)

    async def run() -> list[UsageRow] | None:
        async with opened_store(settings) as store:
            key_id = None
            if key is not None:
                found = await store.get_key(key)
                if found is None:
                    return None
                key_id = found.id
            return await store.usage(UsageQuery(account_id=account, key_id=key_id, limit=limit))

    rows = asyncio.run(run())
    if rows is None:
        raise fail(f"There is no API key with the prefix {key!r}.")
    if json:
        for row in rows:
            typer.echo(orjson.dumps(usage_item(row)).decode())
        return
    table = Table(
        "id",
        Column("time (UTC)", no_wrap=True),
        Column("key", no_wrap=True, min_width=8),
        "account",
        "model",
        "prompt",
        "completion",
        "credits",
        "ms",
        "status",
    )
    for row in rows:
        table.add_row(
            str(row.id),
            row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.key_prefix,
            str(row.account_id),
            row.model,
            str(row.prompt_tokens),
            str(row.completion_tokens),
            str(row.credits),
            str(row.latency_ms),
            row.status,
        )
    out.print(table)
