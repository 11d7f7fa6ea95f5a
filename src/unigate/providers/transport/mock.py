"""An in-memory transport for tests: ``MockTransport(handler)`` hands every request to ``handler``
and returns the ``MockResponse`` it gives (HTTPX's ``MockTransport`` is the model). Nothing
touches a socket, so an adapter is tested against recorded upstream payloads with the exact
request it sent at hand::

    def openai(request: Request) -> MockResponse:
        assert request.url.endswith("/chat/completions")
        return MockResponse.json(orjson.loads(fixture("openai/tool_calls.json")))

    transport = MockTransport(openai)
    provider = OpenAICompatProvider(config, transport=transport)
    ...
    assert orjson.loads(transport.requests[0].body)["model"] == "gpt-4o"

A handler may be a coroutine function (to wait, or to be cancelled like a slow upstream), and may
raise what a real transport raises before an answer: ``HttpFailure`` (no connection) or
``TimeoutError``. A response's ``error`` is raised after its body, as a connection that broke off
mid-answer does (``HttpFailure(..., mid_body=True)``) or a stream that stalled (``TimeoutError``).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from unigate.providers.transport.base import Request

__all__ = ["Handler", "MockResponse", "MockTransport"]


@dataclass
class MockResponse:
    """A recorded answer; also the ``base.Response`` the caller reads."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Sequence[bytes] | None = None
    """When given, the body arrives in these pieces (``chunks()`` yields each), not ``body``."""
    error: BaseException | None = None
    """Raised once the body is out."""
    closed: bool = field(default=False, init=False)
    """Whether the caller ended the exchange (``close()``), as every caller must."""
    consumed: bool = field(default=False, init=False)
    """Whether the body was read to its end."""

    def __post_init__(self) -> None:
        self.headers = {name.lower(): value for name, value in self.headers.items()}

    @classmethod
    def json(cls, payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> MockResponse:
        """``payload`` (bytes as they are, anything else serialized) as ``application/json``."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, body)

    @classmethod
    def sse(cls, text: bytes, *, error: BaseException | None = None) -> MockResponse:
        """A recorded ``text/event-stream`` body, one chunk per event (blank-line separated)."""
        sep = b"\r\n\r\n" if b"\r\n\r\n" in text else b"\n\n"
        events = tuple(e + sep for e in text.split(sep) if e.strip())
        return cls(200, {"Content-Type": "text/event-stream"}, stream=events, error=error)

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        for piece in self.stream if self.stream is not None else (self.body,):
            if piece:
                yield piece
        if self.error is not None:
            raise self.error
        self.consumed = True

    def close(self) -> None:
        self.closed = True


Handler = Callable[[Request], MockResponse | Awaitable[MockResponse]]


class MockTransport:
    """``base.Transport`` answering from ``handler``; every request is kept in ``requests`` and
    every answer in ``responses``, in order."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.responses: list[MockResponse] = []
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def send(self, request: Request) -> MockResponse:
        self.requests.append(request)
        answer = self.handler(request)
        response = await answer if inspect.isawaitable(answer) else answer
        self.responses.append(response)
        return response

    async def close(self) -> None:
        self.started = False
