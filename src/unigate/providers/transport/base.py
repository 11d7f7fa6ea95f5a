"""The seam between the adapters and the network: a ``Transport`` sends one ``Request`` and gives
back a ``Response`` whose body is read whole or as it arrives (HTTPX's transports are the model).

Every implementation keeps the same contract, which ``Upstream`` (``providers/http.py``), the
router's retries and the circuit breakers rely on:

- ``send`` returns once the status and headers are in; the body is read afterwards, once, with
  ``read()`` (whole) or ``chunks()`` (as it arrives), and ``close()`` ends the exchange: a
  connection read to its end may be kept for the next request, any other is dropped, which is how
  an upstream learns that the client left.
- Timeouts, all on the ``Request``: ``connect_s`` for the connection, ``read_s`` (when given) for
  the status line and then every gap between two reads of the body, ``total_s`` for the whole
  exchange, body included. Each raises ``TimeoutError``.
- Any other failure raises ``HttpFailure``; its ``mid_body`` says whether the status and headers
  had arrived (a truncated answer, never one that passes for finished).
- Header names of a response are lower-cased; a gzip or deflate body is decoded.

Implementations: ``h1.H1Transport`` (the default), ``proxy.ProxyTransport`` (aiohttp, through an
egress proxy) and ``mock.MockTransport`` (in memory, for tests). ``factory.py`` picks one from
the settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import field
from typing import Protocol

from unigate.primitives.records import record

__all__ = ["MAX_BODY_BYTES", "USER_AGENT", "HttpFailure", "Request", "Response", "Transport"]

USER_AGENT = "unigate/0.1"
MAX_BODY_BYTES = 256 * 1024 * 1024
"""A whole (non-streamed) answer larger than this is refused rather than held in memory."""


class HttpFailure(Exception):
    """The exchange failed: no connection, a connection lost, or an answer that is not HTTP."""

    def __init__(self, message: str, *, mid_body: bool = False) -> None:
        super().__init__(message)
        self.mid_body = mid_body
        """The status and headers had arrived: the body broke off."""


@record
class Request:
    """One request to an upstream (one per call: a ``record``, immutable without a frozen
    dataclass's cost). Only these headers are sent (plus the transport's ``User-Agent`` and the
    body's length): never any of our own client's."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    connect_s: float = 10.0
    """For the connection (and TLS handshake) to be made."""
    total_s: float = 600.0
    """For the whole exchange: connecting, the answer's head and all of its body."""
    read_s: float | None = None
    """For the status line, then for every gap between two reads of the body; ``None``: only
    ``total_s`` bounds them (a non-streamed answer arrives whole)."""


class Response(Protocol):
    """An answer's status and headers; its body is read once, whole or as it arrives."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Lower-cased names."""
        ...

    async def read(self) -> bytes:
        """The whole body (at most ``MAX_BODY_BYTES``)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        ...

    def close(self) -> None:
        """End the exchange: keep the connection if the answer was read to its end, else drop it."""
        ...


class Transport(Protocol):
    """Sends requests to any number of origins, keeping what connections it can."""

    async def start(self) -> None:
        """Get ready to send (an aiohttp session is made on the running loop); idempotent."""
        ...

    async def send(self, request: Request) -> Response:
        """Send ``request`` and wait for the status and headers (see the module docstring)."""
        ...

    async def close(self) -> None:
        """Drop every kept connection; ``start`` makes the transport usable again."""
        ...
