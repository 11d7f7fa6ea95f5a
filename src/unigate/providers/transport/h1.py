"""HTTP/1.1 to upstreams, made for the gateway's hot path: keep-alive connections per origin, each
request written in one go, answers parsed in C by ``httptools`` (``connection.py``).

A general client (aiohttp's) spends much of an upstream call's CPU on what such a call does not
need: a request object, a task to write each body, timer objects, cookie filtering, header
multidicts. This transport does what the gateway needs:

- a request of any method but ``HEAD`` and ``CONNECT``, with the caller's headers (never our own
  client's), a ``User-Agent`` and, when there is a body or the method expects one,
  ``Content-Length``;
- answers framed by ``Content-Length``, chunked, or by the end of the connection;
- no ``Accept-Encoding`` is sent; a ``gzip`` or ``deflate`` answer is decoded anyway;
- informational answers (``100``, ``103``) are skipped: the final one is what a call gets;
- a connection goes back to its pool only after a whole answer that allows keep-alive; an idle
  one is dropped after ``KEEPALIVE_S``, as soon as the upstream closes it, or if the upstream
  writes to it unasked (a ``408`` before closing);
- the timeouts of ``base.Request``, each raising ``TimeoutError``;
- TLS with the system's trust store and SNI (``ssl.create_default_context``).

No proxies (``proxy.py`` serves operators behind one), redirects or cookies: an upstream API call
needs none of them. No limit on the connections to one origin either: the upstream's own rate
limits, answered as 429s, are the limit that counts.

Failures raise ``TimeoutError`` or ``HttpFailure``; ``Upstream`` (``providers/http.py``) makes
them typed gateway errors.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from unigate.providers.transport.base import MAX_BODY_BYTES, USER_AGENT, HttpFailure, Request
from unigate.providers.transport.connection import Connection, Origin

__all__ = ["MAX_BODY_BYTES", "H1Response", "H1Transport", "HttpFailure"]

KEEPALIVE_S = 15.0
"""How long an idle connection is kept (aiohttp's default too; most servers keep theirs longer)."""
_PAUSE_BYTES = 1024 * 1024
"""A stream's unread data past which the socket stops being read (the client reads slowly)."""
_BODILESS = frozenset({"GET", "DELETE", "OPTIONS", "TRACE"})
"""Methods whose empty body is sent without ``Content-Length`` (RFC 9110, section 'Content-Length')."""


@dataclass(frozen=True, slots=True)
class _Target:
    origin: Origin
    head: bytes
    """The request line and the ``Host`` header."""
    sized: bool
    """``Content-Length`` is sent even for an empty body."""


@lru_cache(maxsize=1024)
def _target(method: str, url: str) -> _Target:
    if not (method.isascii() and method.isalpha() and method.isupper()) or method in ("HEAD", "CONNECT"):
        raise HttpFailure(f"the method {method!r} is not supported")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpFailure(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]  # never send userinfo
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n".encode()
    return _Target((parts.scheme, parts.hostname, port), head, method not in _BODILESS)


def _header_block(headers: Mapping[str, str]) -> bytes:
    lines = []
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise HttpFailure(f"the header {name!r} holds a line break")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


class H1Response:
    """An answer's status and headers; its body is read once, whole or as it arrives. ``close()``
    gives the connection back to the pool when the answer was read to its end, else drops it
    (which tells the upstream to stop)."""

    __slots__ = ("_client", "_conn", "_deadline", "_decoder", "_read_s", "headers", "status")

    def __init__(self, client: H1Transport, conn: Connection, deadline: float, read_s: float | None) -> None:
        self._client = client
        self._conn = conn
        self._deadline = deadline
        self._read_s = read_s
        self.status = conn.status
        self.headers = conn.headers
        """Lower-cased names."""
        encoding = conn.headers.get("content-encoding", "identity").lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder: zlib._Decompress | None = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif encoding == "identity":
            self._decoder = None
        else:
            raise HttpFailure(f"the answer uses an unsupported content encoding {encoding!r}", mid_body=True)

    async def read(self) -> bytes:
        """The whole body."""
        conn = self._conn
        while True:
            if conn.buffered > MAX_BODY_BYTES:
                raise HttpFailure(f"the answer is larger than {MAX_BODY_BYTES} bytes", mid_body=True)
            if conn.complete:
                break
            await conn.wait(self._deadline, self._read_s)
        return self._decode(conn.take(), final=True)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives: one piece per read of the socket (or what queued since)."""
        conn = self._conn
        conn.pause_past = _PAUSE_BYTES
        while True:
            if conn.buffered:
                data = self._decode(conn.take(), final=False)
                if data:
                    yield data
            elif conn.complete:
                tail = self._decode(b"", final=True)
                if tail:
                    yield tail
                return
            else:
                await conn.wait(self._deadline, self._read_s)

    def _decode(self, data: bytes, *, final: bool) -> bytes:
        if self._decoder is None:
            return data
        try:
            out = self._decoder.decompress(data)
            return out + self._decoder.flush() if final else out
        except zlib.error as exc:
            raise HttpFailure(f"the answer's compressed body is corrupt ({exc})", mid_body=True) from None

    def close(self) -> None:
        conn = self._conn
        if conn.complete and conn.reusable and not conn.closed and not conn.buffered:
            self._client._release(conn)
        else:
            conn.close()


class H1Transport:
    """Keep-alive connections to any number of origins, for one provider (``base.Transport``)."""

    def __init__(self, *, user_agent: str = USER_AGENT, ssl_context: ssl.SSLContext | None = None) -> None:
        self._user_agent = f"User-Agent: {user_agent}\r\n".encode()
        self._idle: dict[Origin, list[Connection]] = {}
        self._ssl = ssl_context
        """The system's trust store unless given (tests trust their own certificate)."""
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def send(self, request: Request) -> H1Response:
        """Send ``request`` and wait for the status and headers (``base.Request`` for the timeouts)."""
        if self._closed:
            raise HttpFailure("the client is closed")
        loop = asyncio.get_running_loop()
        total_s = request.total_s
        deadline = loop.time() + total_s
        target = _target(request.method, request.url)
        block = _header_block(request.headers)
        body = request.body
        length = f"Content-Length: {len(body)}\r\n\r\n".encode() if body or target.sized else b"\r\n"
        origin = target.origin
        conn = self._reuse(origin) or await self._connect(loop, origin, min(request.connect_s, total_s))
        conn.send([target.head, self._user_agent, block, length, body])
        read_s = request.read_s
        try:
            while not conn.head_done:
                await conn.wait(deadline, read_s)
            return H1Response(self, conn, deadline, read_s)
        except BaseException:
            conn.close()
            raise

    async def post(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        connect_s: float,
        total_s: float,
        read_s: float | None = None,
    ) -> H1Response:
        """``send`` of a ``POST``."""
        return await self.send(Request("POST", url, headers, body, connect_s, total_s, read_s))

    def _reuse(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        cutoff = time.monotonic() - KEEPALIVE_S
        while idle:
            conn = idle.pop()  # the most recent: the least likely to have been closed meanwhile
            if not conn.closed and conn.idle_since > cutoff:
                return conn
            conn.close()
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop, origin: Origin, within_s: float) -> Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(within_s):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop, origin),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context else None,
                )
        except TimeoutError:  # an OSError too, but ours to report as a timeout
            raise
        except (OSError, ValueError) as exc:  # refused, unresolvable, TLS refused; a host IDNA cannot encode
            raise HttpFailure(f"could not connect to {host}:{port} ({type(exc).__name__}: {exc})") from exc
        return conn

    def _release(self, conn: Connection) -> None:
        if self._closed:
            conn.close()
            return
        conn.idle = True
        conn.idle_since = time.monotonic()
        assert conn.transport is not None
        self._idle.setdefault(conn.origin, []).append(conn)

    async def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
