"""The ``unigate`` command: ``serve``, ``keys``, ``credits``, ``usage`` and ``doctor``.

Output is quiet by default: results go to stdout (so that ``KEY=$(unigate keys create)`` works),
progress and notices to stderr.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from unigate.cli.config import ConfigOpt, err, opened_store, settings_from
from unigate.cli.credits import credits_app
from unigate.cli.doctor import doctor
from unigate.cli.keys import keys_app
from unigate.cli.usage import usage
from unigate.observability.logging import LogFormat, configure_logging
from unigate.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="unigate: one OpenAI-compatible API for many models."
)
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.command("usage")(usage)
app.command("doctor")(doctor)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8000].")] = None,
    config: ConfigOpt = None,
    log_level: Annotated[
        str, typer.Option(envvar="UNIGATE_LOG_LEVEL", help="Logging level; 'info' adds one line per request.")
    ] = "warning",
    log_format: Annotated[
        LogFormat, typer.Option(envvar="UNIGATE_LOG_FORMAT", help="'json' (one object per line) or 'text'.")
    ] = "json",
    workers: Annotated[
        int, typer.Option(min=1, envvar="UNIGATE_WORKERS", help="Worker processes sharing the port.")
    ] = 1,
) -> None:
    """Serve the API and the web console (/console)."""
    from dataclasses import replace

    from unigate.server import run

    configure_logging(level=log_level, fmt=log_format)
    settings = settings_from(config)
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    generated = asyncio.run(_ensure_management_key(settings))
    if generated:
        err.print(f"[bold]Management key[/bold] (shown once; keep it, or set UNIGATE_MANAGEMENT_KEY):\n  {generated}")
    if workers > 1 and settings.redis_url is None:
        # Rate-limit windows and key caches live in each process's memory without Redis: N workers
        # would admit N times a key's limit.
        err.print("[red]--workers > 1 needs UNIGATE_REDIS_URL[/red], so that the workers share rate limits.")
        raise typer.Exit(2)
    run(settings, workers=workers, announce=lambda msg: err.print(msg))


async def _ensure_management_key(settings: Settings) -> str | None:
    async with opened_store(settings) as store:
        return await store.ensure_management_key(settings.management_key)


def main() -> None:
    app()
