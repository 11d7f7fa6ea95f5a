"""``unigate keys``: create, list, disable, enable and delete API keys (works while the server runs)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
import typer
from rich.table import Column, Table

from unigate.accounts.scopes import SCOPES
from unigate.accounts.spending import RETENTIONS, SpendingLimit, as_retention, credits_of_usd, usd_of_credits
from unigate.accounts.store import ApiKey, KeyChanges, KeySettings
from unigate.api.admin.keys_schema import key_body
from unigate.cli.config import ConfigOpt, announce_key_change, err, fail, opened_store, out, settings_from

__all__ = ["keys_app"]

keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys (works while the server runs).")


@keys_app.command("create")
def create(
    name: Annotated[str | None, typer.Option(help="A name to recognise the key by.")] = None,
    credits: Annotated[int, typer.Option(min=0, help="Credits of the new account (1 USD = 2,000,000).")] = 0,
    account: Annotated[
        int | None, typer.Option(help="Add the key to this existing account (and --credits to it) instead.")
    ] = None,
    key: Annotated[str | None, typer.Option(help="Use this key instead of a random one (tests, benchmarks).")] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help=f"Allow only this API ({', '.join(SCOPES)}); repeatable. Default: all.")
    ] = None,
    limit_usd: Annotated[float | None, typer.Option(min=0, help="Spending limit per period, in USD.")] = None,
    limit_period: Annotated[
        str, typer.Option(help=f"Period of the spending limit: {', '.join(RETENTIONS)}.")
    ] = "no_reset",
    rpm: Annotated[int | None, typer.Option(min=1, help="Requests per minute (default: the server's).")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="Tokens per minute (default: the server's).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create an API key and print it (shown only now)."""
    settings = settings_from(config)
    unknown = sorted(set(scope or ()) - set(SCOPES))
    if unknown:
        raise fail(f"Unknown scope {unknown[0]!r}; choose from {', '.join(SCOPES)}.", 2)
    if limit_period not in RETENTIONS:
        raise fail(f"Unknown period {limit_period!r}; choose from {', '.join(RETENTIONS)}.", 2)
    key_settings = KeySettings(
        scopes=tuple(dict.fromkeys(scope or ())),
        limit=None if limit_usd is None else SpendingLimit(as_retention(limit_period), credits_of_usd(limit_usd)),
        rpm=rpm,
        tpm=tpm,
    )

    async def run() -> tuple[str, int, int]:
        async with opened_store(settings) as store:
            if account is None:
                account_id = await store.create_account(name=name, credits=credits)
            else:
                account_id = account
                await store.balance(account_id)
                if credits:
                    await store.add_credits(account_id, credits)
            _record, plain = await store.create_key(account_id=account_id, name=name, key=key, settings=key_settings)
            return plain, account_id, await store.balance(account_id)

    try:
        plain, account_id, balance = asyncio.run(run())
    except (LookupError, ValueError) as exc:
        raise fail(f"Cannot create the key: {exc}") from None
    err.print(f"Account {account_id}, balance {balance:,} credits. The key (shown only now):")
    typer.echo(plain)


@keys_app.command("list")
def list_(
    account: Annotated[int | None, typer.Option(help="Only the keys of this account.")] = None,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    config: ConfigOpt = None,
) -> None:
    """List the keys (not the keys themselves: their prefixes and settings)."""
    settings = settings_from(config)

    async def run() -> tuple[list[ApiKey], dict[int, int]]:
        async with opened_store(settings) as store:
            found = await store.list_keys(account_id=account)
            return found, await store.monthly_usage([k.id for k in found])

    found, usage = asyncio.run(run())
    if json:
        for k in found:
            typer.echo(orjson.dumps(key_body(k, monthly_usage=usage[k.id])).decode())
        return
    table = Table(
        Column("prefix", no_wrap=True, min_width=8),
        "account",
        "name",
        "enabled",
        "scopes",
        "limit (USD)",
        "rpm",
        "tpm",
        "month (USD)",
    )
    for k in found:
        limit = f"{usd_of_credits(k.limit.threshold)} / {k.limit.retention}" if k.limit else "-"
        table.add_row(
            k.prefix,
            str(k.account_id),
            k.name or "",
            "no" if k.disabled else "yes",
            ", ".join(k.scopes) or "all",
            limit,
            str(k.rpm or "-"),
            str(k.tpm or "-"),
            str(usd_of_credits(usage[k.id])),
        )
    out.print(table)


def _change(prefix: str, changes: KeyChanges, config: ConfigOpt, done: str) -> None:
    settings = settings_from(config)

    async def run() -> bool:
        async with opened_store(settings) as store:
            changed = await store.update_key(prefix, changes) is not None
        if changed:
            await announce_key_change(settings, prefix)
        return changed

    if not asyncio.run(run()):
        raise fail(f"There is no API key with the prefix {prefix!r}.")
    err.print(f"Key {prefix} {done}.")


@keys_app.command("disable")
def disable(
    prefix: Annotated[str, typer.Argument(help="The key's first 8 characters.")], config: ConfigOpt = None
) -> None:
    """Disable a key: it stops working at once, on every server process."""
    _change(prefix, KeyChanges(disabled=True), config, "disabled")


@keys_app.command("enable")
def enable(
    prefix: Annotated[str, typer.Argument(help="The key's first 8 characters.")], config: ConfigOpt = None
) -> None:
    """Enable a disabled key again."""
    _change(prefix, KeyChanges(disabled=False), config, "enabled")


@keys_app.command("delete")
def delete(
    prefix: Annotated[str, typer.Argument(help="The key's first 8 characters.")], config: ConfigOpt = None
) -> None:
    """Delete a key for good (its usage rows stay in the ledger)."""
    settings = settings_from(config)

    async def run() -> bool:
        async with opened_store(settings) as store:
            deleted = await store.delete_key(prefix)
        if deleted:
            await announce_key_change(settings, prefix)
        return deleted

    if not asyncio.run(run()):
        raise fail(f"There is no API key with the prefix {prefix!r}.")
    err.print(f"Key {prefix} deleted.")
