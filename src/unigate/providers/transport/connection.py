"""One HTTP/1.1 connection of ``H1Transport`` (``h1.py``) and the answer being read on it: an
asyncio protocol whose received bytes go straight to ``httptools``' parser (llhttp, Node.js's),
whose callbacks fill in the status, the headers and the body as they arrive.

The reading side waits on one future at a time (``wait``), woken by the parser's callbacks or
failed by a timer, the connection's loss, or an answer that is not HTTP. A stream's unread data
past ``pause_past`` stops the socket being read until it is taken, so a slow client never makes
the gateway buffer a whole answer.
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools

from unigate.providers.transport.base import HttpFailure

__all__ = ["Connection", "Origin"]

Origin = tuple[str, str, int]
"""Scheme, host, port: what a connection is for."""


class Connection(asyncio.Protocol):
    """One connection and the answer being read on it (callbacks of ``httptools``' parser)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
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
