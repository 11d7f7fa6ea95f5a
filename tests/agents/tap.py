"""A recording pass-through between an agent and the gateway: it keeps every request exactly as
the agent sent it, so that a test compares what reached the upstream with what the agent sent
rather than with what we believe the agent sends. Bodies and answers pass unchanged, streamed
answers piece by piece as they come."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from aiohttp import web

from tests.providers.emulators import Recorded

__all__ = ["Tap"]

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)
"""Headers of one connection, not of the request (RFC 9110 §7.6.1); the client sets its own."""


class Tap:
    def __init__(self, target: str) -> None:
        self.target = target
        self.requests: list[Recorded] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        # No decompression and no timeout of its own: the agent's answer comes as the gateway wrote it.
        self._session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        raw = await request.read()
        body: Any = orjson.loads(raw) if raw and request.content_type == "application/json" else raw
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        lowered = {k.lower(): v for k, v in headers.items()}
        self.requests.append(Recorded(request.method, request.path, dict(request.query), lowered, body))
        async with self._session.request(
            request.method, self.target + request.path_qs, headers=headers, data=raw, allow_redirects=False
        ) as answer:
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
            response = web.StreamResponse(status=answer.status, headers=kept)
            if request.method != "HEAD":
                response.enable_chunked_encoding()
            await response.prepare(request)
            async for piece in answer.content.iter_any():
                await response.write(piece)
            await response.write_eof()
            return response
