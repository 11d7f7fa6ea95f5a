"""The ``unigate`` command: ``serve`` and ``keys``.

Output is quiet by default: results go to stdout (so that ``KEY=$(unigate keys create)`` works),
progress and notices to stderr.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from unigate.settings import Settings, load_settings
from unigate.storage.sqlite import SqliteStore

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="unigate: one OpenAI-compatible API for many models."
)
keys_app = typer.Typer(no_args_is_help=True, help="Create API keys (works while the server runs).")
app.add_typer(keys_app, name="keys")
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.", exists=True, dir_okay=False)]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except (ValueError, TypeError, OSError) as exc:
        err.print(f"[red]Bad settings:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8000].")] = None,
    config: ConfigOpt = None,
    log_level: Annotated[str, typer.Option(envvar="UNIGATE_LOG_LEVEL", help="Python logging level.")] = "warning",
) -> None:
    """Serve the API."""
    from dataclasses import replace

    from unigate.server import run

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(config)
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    generated = asyncio.run(_ensure_management_key(settings))
    if generated:
        err.print(f"[bold]Management key[/bold] (shown once; keep it, or set UNIGATE_MANAGEMENT_KEY):\n  {generated}")
    run(settings, announce=lambda msg: err.print(msg))


async def _ensure_management_key(settings: Settings) -> str | None:
    store = SqliteStore(settings.sqlite_path())
    await store.open()
    try:
        return await store.ensure_management_key(settings.management_key)
    finally:
        await store.close()


@keys_app.command("create")
def keys_create(
    name: Annotated[str | None, typer.Option(help="A name to recognise the key by.")] = None,
    credits: Annotated[int, typer.Option(min=0, help="Credits of the new account (1 USD = 2,000,000).")] = 0,
    account: Annotated[
        int | None, typer.Option(help="Add the key to this existing account instead of creating one.")
    ] = None,
    key: Annotated[str | None, typer.Option(help="Use this key instead of a random one (tests, benchmarks).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create an API key and print it (shown only now)."""
    settings = _settings(config)

    async def create() -> tuple[str, int, int]:
        store = SqliteStore(settings.sqlite_path())
        await store.open()
        try:
            if account is None:
                account_id = await store.create_account(name=name, credits=credits)
            else:
                account_id = account
                if credits:
                    await store.add_credits(account_id, credits)
            _record, plain = await store.create_key(account_id=account_id, name=name, key=key)
            return plain, account_id, await store.balance(account_id)
        finally:
            await store.close()

    try:
        plain, account_id, balance = asyncio.run(create())
    except (LookupError, ValueError) as exc:
        err.print(f"[red]Cannot create the key:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    err.print(f"Account {account_id}, balance {balance:,} credits. The key (shown only now):")
    typer.echo(plain)


def main() -> None:
    app()
