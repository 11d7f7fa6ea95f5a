"""A real unigate server on a free loopback port, run in a background thread with its own loop,
so that synchronous clients (the official SDKs, raw sockets) can drive it from the test."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from unigate.accounts.store import Store
from unigate.api.context import GATEWAY
from unigate.app import create_app
from unigate.catalog.spec import ModelSpec
from unigate.core.embedder import Embedder
from unigate.core.gateway import Gateway
from unigate.core.jobs import Webhooks
from unigate.core.provider import Provider
from unigate.core.services import Capabilities
from unigate.settings import LocalModelSettings, Settings
from unigate.storage.factory import store_for


def fake_settings(data_dir: Path, **overrides: Any) -> Settings:
    base = Settings(data_dir=data_dir, local=LocalModelSettings(enabled=False), fake_models=True)
    return replace(base, **overrides)


async def _make_key(settings: Settings, credits: int) -> tuple[str, int]:
    store = store_for(settings)
    await store.open()
    try:
        await store.ensure_management_key(settings.management_key)
        account_id = await store.create_account(name="test", credits=credits)
        _, plain = await store.create_key(account_id=account_id, name="test")
        return plain, account_id
    finally:
        await store.close()


@dataclass
class Server:
    settings: Settings
    models: list[ModelSpec] | None = None
    providers: dict[str, Provider] | None = None
    embedders: dict[str, Embedder] | None = None
    store: Store | None = None
    webhooks: Webhooks | None = None
    capabilities: dict[str, Capabilities] | None = None
    url: str = ""
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    def start(self) -> Server:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            app = create_app(
                self.settings,
                models=self.models,
                providers=self.providers,
                embedders=self.embedders,
                store=self.store,
                webhooks=self.webhooks,
                capabilities=self.capabilities,
            )
            self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(boot())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait(120)
        if failure:
            raise failure[0]
        return self

    def call(self, coro: Any, timeout: float = 60) -> Any:
        """Run a coroutine on the server's loop (e.g. to inspect its store) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def gateway(self) -> Gateway:
        assert self._runner is not None
        return self._runner.app[GATEWAY]

    def new_key(self, credits: int) -> tuple[str, int]:
        plain, account_id = asyncio.run(_make_key(self.settings, credits))
        return plain, account_id

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.settings.sqlite_path())

    def balance(self, account_id: int) -> int:
        with self.db() as db:
            return int(db.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)).fetchone()[0])

    def usage_rows(self, account_id: int) -> list[tuple[Any, ...]]:
        with self.db() as db:
            return db.execute(
                "SELECT model, prompt_tokens, completion_tokens, credits, status FROM usage WHERE account_id = ?"
                " ORDER BY id",
                (account_id,),
            ).fetchall()

    def open_reservations(self) -> int:
        with self.db() as db:
            return int(db.execute("SELECT COUNT(*) FROM reservations").fetchone()[0])

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        if self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()
