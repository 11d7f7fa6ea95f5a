"""An aiohttp app served on a free loopback port by a thread of its own, for the emulated
upstreams, proxies and receivers the synchronous tests talk to."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class LoopbackApp:
    """``app`` on ``127.0.0.1`` at ``origin`` until ``stop``."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        self.origin = ""
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", 0).start())
            self.origin = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the loopback app did not start")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
