"""``unigate credits``: an account's balance, and adding credits to it."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from unigate.accounts.spending import usd_of_credits
from unigate.cli.config import ConfigOpt, err, fail, opened_store, settings_from

__all__ = ["credits_app"]

credits_app = typer.Typer(no_args_is_help=True, help="Account balances, in credits (1 USD = 2,000,000).")


@credits_app.command("add")
def add(
    account: Annotated[int, typer.Argument(help="The account id (shown by 'unigate keys create' and 'keys list').")],
    credits: Annotated[int, typer.Argument(help="Credits to add; negative to take some back.")],
    config: ConfigOpt = None,
) -> None:
    """Add credits to an account and print its new balance."""
    settings = settings_from(config)

    async def run() -> int:
        async with opened_store(settings) as store:
            return await store.add_credits(account, credits)

    try:
        balance = asyncio.run(run())
    except LookupError:
        raise fail(f"There is no account {account}.") from None
    except ValueError:
        raise fail("The balance cannot fall below zero.") from None
    err.print(f"Account {account}: {balance:,} credits ({usd_of_credits(balance)} USD).")
    typer.echo(balance)


@credits_app.command("show")
def show(
    account: Annotated[int, typer.Argument(help="The account id.")],
    config: ConfigOpt = None,
) -> None:
    """Print an account's balance in credits."""
    settings = settings_from(config)

    async def run() -> int:
        async with opened_store(settings) as store:
            return await store.balance(account)

    try:
        balance = asyncio.run(run())
    except LookupError:
        raise fail(f"There is no account {account}.") from None
    typer.echo(balance)
