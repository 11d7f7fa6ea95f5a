"""HTTP/1.1 to upstreams, made for the gateway's hot path: keep-alive connections per origin, each
request written in one go, answers parsed in C by ``httptools`` (llhttp, Node.js's parser).

The aiohttp client this replaces cost about 80 µs of CPU per request on the benchmark's machine,
a quarter of all the gateway spent on one: a request object, a task to write each body, timer
objects, cookie filtering, header multidicts. An upstream call needs none of that. This client
does what it needs:

- ``POST`` of a body of bytes with the adapter's headers (never the client's) and
  ``Content-Length``;
- answers framed by ``Content-Length``, chunked, or by the end of the connection;
- no ``Accept-Encoding`` is sent; a ``gzip`` or ``deflate`` answer is decoded anyway;
- informational answers (``100``, ``103``) are skipped: the final one is what a call gets;
- a connection goes back to its pool only after a whole answer that allows keep-alive; an idle
  one is dropped after ``KEEPALIVE_S``, as soon as the upstream closes it, or if the upstream
  writes to it unasked (a ``408`` before closing);
- timeouts: connecting, each wait for data (``read_s``: the status line, then every gap between
  two reads), and a deadline for the whole exchange; each raises ``TimeoutError``;
- TLS with the system's trust store and SNI (``ssl.create_default_context``).

No proxies, redirects or cookies: an upstream API call needs none of them. No limit on the
connections to one origin either (aiohttp's was 100 per provider, queueing the rest): the
upstream's own rate limits, answered as 429s, are the limit that counts.

Failures raise ``TimeoutError`` or ``HttpFailure``; ``Upstream`` (``http.py``) makes them typed
gateway errors.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import httptools

__all__ = ["MAX_BODY_BYTES", "Client", "HttpFailure", "Response"]

KEEPALIVE_S = 15.0
"""How long an idle connection is kept (aiohttp's default too; most servers keep theirs longer)."""
MAX_BODY_BYTES = 256 * 1024 * 1024
"""A whole (non-streamed) answer larger than this is refused rather than held in memory."""
_PAUSE_BYTES = 1024 * 1024
"""A stream's unread data past which the socket stops being read (the client reads slowly)."""


class HttpFailure(Exception):
    """The exchange failed: no connection, a connection lost, or an answer that is not HTTP."""

    def __init__(self, message: str, *, mid_body: bool = False) -> None:
        super().__init__(message)
        self.mid_body = mid_body
        """The status and headers had arrived: the body broke off."""


@dataclass(frozen=True, slots=True)
class _Target:
    origin: tuple[str, str, int]
    """Scheme, host, port: what a connection is for."""
    head: bytes
    """The request line and the ``Host`` header."""


@lru_cache(maxsize=1024)
def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpFailure(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]  # never send userinfo
    return _Target((parts.scheme, parts.hostname, port), f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode())


def _header_block(headers: dict[str, str]) -> bytes:
    lines = []
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise HttpFailure(f"the header {name!r} holds a line break")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


class _Connection(asyncio.Protocol):
    """One connection and the answer being read on it (callbacks of ``httptools``' parser)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: tuple[str, str, int]) -> None:
        self._loop = loop
        self.origin = origin
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.head_done = False
        self.interim = False
        """An informational (1xx) answer is being read: what counts is the one after it."""
        self.complete = False
        self.reusable = False
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.pause_past: int | None = None
        """Unread bytes past which the socket stops being read (set while a stream is read)."""
        self.paused = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.idle:  # nothing was asked: the upstream is giving up on this connection (a 408, say)
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpFailure(f"the answer is not valid HTTP ({exc})", mid_body=self.head_done))
            self.close()

    def eof_received(self) -> bool:
        self._ended()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended()

    def _ended(self) -> None:
        """The upstream closed its side: that ends a body framed by the connection's end, and
        breaks any other answer still arriving."""
        self.closed = True
        if self.complete:
            return
        if self.head_done and "content-length" not in self.headers and "transfer-encoding" not in self.headers:
            self.on_message_complete()
            return
        self._fail(
            HttpFailure(
                "the connection broke off mid-answer" if self.head_done else "the connection closed before an answer",
                mid_body=self.head_done,
            )
        )

    # -- parser callbacks -----------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 100 Continue, 103 Early Hints: the answer follows
            self.headers = {}
            self.interim = True
            return
        self.status = status
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)
        if self.pause_past is not None and self.buffered > self.pause_past and not self.paused:
            assert self.transport is not None
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.complete = True
        self.reusable = not self.closed and self._parser.should_keep_alive()
        self._wake()

    # -- the reading side -------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _time_out(self) -> None:
        self._fail(TimeoutError())

    async def wait(self, deadline: float, read_s: float | None) -> None:
        """Until the parser has more to give (headers, data, the end), at most until ``deadline``
        (loop time) and, with ``read_s``, for that many seconds."""
        if self.error is not None:
            raise self.error
        loop = self._loop
        self._waiter = waiter = loop.create_future()
        timer = loop.call_at(deadline if read_s is None else min(deadline, loop.time() + read_s), self._time_out)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def take(self) -> bytes:
        """The body received so far (and resume reading a paused socket)."""
        body = self.body
        data = body.popleft() if len(body) == 1 else b"".join(body)
        body.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data

    def send(self, data: list[bytes]) -> None:
        self.idle = False
        self._reset()
        assert self.transport is not None
        self.transport.writelines(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Response:
    """An answer's status and headers; its body is read once, whole or as it arrives. ``close()``
    gives the connection back to the pool when the answer was read to its end, else drops it
    (which tells the upstream to stop)."""

    __slots__ = ("_client", "_conn", "_deadline", "_decoder", "_read_s", "headers", "status")

    def __init__(self, client: Client, conn: _Connection, deadline: float, read_s: float | None) -> None:
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


class Client:
    """Keep-alive connections to any number of origins, for one provider."""

    def __init__(self, *, user_agent: str, ssl_context: ssl.SSLContext | None = None) -> None:
        self._user_agent = f"User-Agent: {user_agent}\r\n".encode()
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl = ssl_context
        """The system's trust store unless given (tests trust their own certificate)."""
        self._closed = False

    async def post(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        *,
        connect_s: float,
        total_s: float,
        read_s: float | None = None,
    ) -> Response:
        """Send ``body`` and wait for the status and headers. ``read_s`` bounds the wait for them
        and then each wait for more of the body; ``total_s`` bounds the whole exchange."""
        if self._closed:
            raise HttpFailure("the client is closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + total_s
        target = _target(url)
        block = _header_block(headers)
        conn = self._reuse(target.origin) or await self._connect(loop, target.origin, min(connect_s, total_s))
        conn.send(
            [
                target.head,
                self._user_agent,
                block,
                f"Content-Length: {len(body)}\r\n\r\n".encode(),
                body,
            ]
        )
        try:
            while not conn.head_done:
                await conn.wait(deadline, read_s)
            return Response(self, conn, deadline, read_s)
        except BaseException:
            conn.close()
            raise

    def _reuse(self, origin: tuple[str, str, int]) -> _Connection | None:
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

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: tuple[str, str, int], within_s: float
    ) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(within_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, origin),
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

    def _release(self, conn: _Connection) -> None:
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
