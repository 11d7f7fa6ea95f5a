"""What the commands share: the ``--config`` option, loading the settings, opening the store and
announcing key changes to running gateways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from unigate.accounts.store import Store
from unigate.settings import Settings, load_settings
from unigate.storage.factory import store_for

__all__ = ["ConfigOpt", "announce_key_change", "err", "fail", "opened_store", "out", "settings_from"]

err = Console(stderr=True)
out = Console(soft_wrap=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.", exists=True, dir_okay=False)]


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except (ValueError, TypeError, OSError) as exc:
        err.print(f"[red]Bad settings:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` (plain text, never markup) and return the exit to raise."""
    err.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(code)


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    store = store_for(settings)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def announce_key_change(settings: Settings, prefix: str) -> None:
    """Tell running gateways (through Redis, when configured) to drop their cached copy of a key.
    Without Redis they cache nothing, and see the change at their next request."""
    if settings.redis_url is None:
        return
    import redis.asyncio as aioredis

    from unigate.accounts.key_events import KeyEvents

    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        await KeyEvents(client, prefix=settings.redis_prefix).publish(prefix)
    finally:
        await client.aclose()
