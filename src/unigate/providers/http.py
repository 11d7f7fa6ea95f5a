"""HTTP to one upstream: the timeouts, and upstream failures as typed errors.

The connections belong to a ``Transport`` (``transport/``) given to ``Upstream`` by whoever builds
the adapter (``transport/factory.py`` picks it from the settings); ``Upstream`` starts it in
``start()`` and closes it in ``close()``, and never creates one. Only the headers the adapter
builds are sent: the client's own key and headers never reach an upstream.

How an upstream failure reaches our client (the status is ours, the message says whose it is):

=========================  ==========================================================
upstream answer            our error
=========================  ==========================================================
400, 422                   ``InvalidRequest`` 400 with the upstream message and param;
                           ``ContextLengthExceeded`` (code ``context_length_exceeded``)
                           when the parser says the prompt does not fit the context
401, 403, bad key          ``UpstreamError`` 502 ``upstream_auth_failed``: *our* key is
                           wrong, so never a 401/403 to the client; names the setting
404                        ``UpstreamError`` 502 ``upstream_not_found`` (our catalog
                           names a model or URL the upstream does not know)
408, 504                   ``UpstreamTimeout`` 504
413                        ``PayloadTooLarge`` 413
429                        ``RateLimited`` 429 ``upstream_rate_limited``, Retry-After
                           passed through (the SDKs honour it and retry)
503, 529 (overloaded)      ``Overloaded`` 503 ``upstream_overloaded``, Retry-After kept
other 4xx, other 5xx       ``UpstreamError`` 502
no connection, reset,      ``UpstreamError`` 502
truncated body
connect/first-byte/total   ``UpstreamTimeout`` 504
timeout
=========================  ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import orjson

from unigate.errors import (
    ContextLengthExceeded,
    GatewayError,
    InvalidRequest,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from unigate.observability import tracing
from unigate.providers.config import ProviderConfig
from unigate.providers.sse import SseDecoder, SseEvent, read_events
from unigate.providers.transport.base import HttpFailure, Request, Response, Transport

__all__ = [
    "ErrorParser",
    "Upstream",
    "UpstreamFailure",
    "failure_error",
]

MAX_MESSAGE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    """What an upstream's error body says, in the provider's own terms."""

    message: str | None
    param: str | None = None
    status: int | None = None
    """The HTTP status the body stands for when it knows better than the response's (Gemini
    answers 400 ``API_KEY_INVALID`` for a wrong key; an Anthropic ``error`` event arrives in a
    200 stream), else ``None``."""
    retry_after: str | None = None
    """Seconds, from the body (Gemini's ``RetryInfo``) when no ``Retry-After`` header came."""
    context_exceeded: bool = False
    """The upstream says the prompt does not fit the model's context (in its own words, which
    name the sizes): our 400 then carries OpenAI's code, ``context_length_exceeded``."""


ErrorParser = Callable[[bytes], UpstreamFailure]


def _seconds(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(max(0, math.ceil(float(value.strip().removesuffix("s")))))
    except ValueError:
        return value.strip() or None  # an HTTP date is passed through as it came


def failure_error(
    config: ProviderConfig, status: int, failure: UpstreamFailure, headers: Mapping[str, str] | None = None
) -> GatewayError:
    """Our typed error for an upstream failure (the table in the module docstring); ``headers``
    are the answer's, with lower-cased names."""
    name = config.name
    status = failure.status or status
    detail = (failure.message or "").strip()[:MAX_MESSAGE_CHARS] or "no details given"
    retry = _seconds((headers or {}).get("retry-after")) or _seconds(failure.retry_after)
    retry_headers = {"Retry-After": retry} if retry else None
    if status in (401, 403):
        # Never echo the upstream message: it may quote part of our key.
        setting = config.info.key_settings()[0]
        return UpstreamError(
            f"The {name} provider rejected this server's credentials (HTTP {status}); "
            f"the operator must check {setting}.",
            code="upstream_auth_failed",
        )
    if status in (400, 422):
        message = f"The {name} provider rejected the request: {detail}"
        if failure.context_exceeded:
            return ContextLengthExceeded(message, param=failure.param or "messages")
        return InvalidRequest(message, param=failure.param, code="upstream_invalid_request")
    if status == 404:
        return UpstreamError(
            f"The {name} provider does not know this model or endpoint: {detail}", code="upstream_not_found"
        )
    if status in (408, 504):
        return UpstreamTimeout(f"The {name} provider timed out: {detail}")
    if status == 413:
        return PayloadTooLarge(f"The {name} provider says the request is too large: {detail}")
    if status == 429:
        return RateLimited(
            f"The {name} provider is rate limiting this server: {detail}",
            code="upstream_rate_limited",
            headers=retry_headers,
        )
    if status in (503, 529):
        return Overloaded(
            f"The {name} provider is overloaded: {detail}", code="upstream_overloaded", headers=retry_headers
        )
    return UpstreamError(f"The {name} provider failed (HTTP {status}): {detail}")


class Upstream:
    """The HTTP side of one provider. Adapters build URLs, headers and bodies; this sends them
    through ``transport``, which it owns from here on: ``close()`` closes it."""

    def __init__(self, config: ProviderConfig, *, parse_error: ErrorParser, transport: Transport) -> None:
        self.config = config
        self.parse_error = parse_error
        self.transport = transport
        self._started = False

    async def start(self) -> None:
        if not self._started:
            await self.transport.start()
            self._started = True

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self.transport.close()

    def error(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> GatewayError:
        return failure_error(self.config, status, self.parse_error(body), headers)

    def _transport_error(self, exc: BaseException) -> GatewayError:
        name = self.config.name
        if isinstance(exc, TimeoutError):
            return UpstreamTimeout(f"The {name} provider did not answer in time.")
        if isinstance(exc, HttpFailure) and exc.mid_body:
            return UpstreamError(f"The connection to the {name} provider broke off mid-response: {exc}.")
        return UpstreamError(f"Could not reach the {name} provider: {exc}.")

    async def _post(self, url: str, headers: Mapping[str, str], body: Any, *, stream: bool) -> Response:
        accept = "text/event-stream" if stream else "*/*"
        headers = {**headers, "Content-Type": "application/json", "Accept": accept}
        return await self._send("POST", url, headers, orjson.dumps(body), stream=stream)

    async def _send(self, method: str, url: str, headers: Mapping[str, str], body: bytes, *, stream: bool) -> Response:
        if not self._started:
            raise UpstreamError(f"The {self.config.name} provider was used before the server started it.")
        t = self.config.timeouts
        request = Request(
            method,
            url,
            tracing.inject(headers),  # traceparent: the upstream's spans join the request's trace
            body,
            connect_s=t.connect_s,
            total_s=t.total_s,
            read_s=t.first_byte_s if stream else None,
        )
        return await self.transport.send(request)

    async def open(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes = b"", stream: bool = False
    ) -> Response:
        """Send a request with a body of any type (``headers`` carry its ``Content-Type``) and
        return the answer once its status is a success, for the caller to read and ``close()``;
        a failure status raises its typed error (its body read and the exchange closed).
        ``stream``: the answer is read as it arrives (first-byte and gap timeouts apply)."""
        try:
            resp = await self._send(method, url, headers, body, stream=stream)
        except (TimeoutError, HttpFailure) as exc:
            raise self._transport_error(exc) from exc
        if resp.status < 400:
            return resp
        try:
            raw = await resp.read()
        except (TimeoutError, HttpFailure) as exc:
            raise self._transport_error(exc) from exc
        finally:
            resp.close()
        raise self.error(resp.status, raw, resp.headers)

    async def read_body(self, resp: Response) -> bytes:
        """The whole body of an answer ``open`` returned; closes it."""
        try:
            return await resp.read()
        except (TimeoutError, HttpFailure) as exc:
            raise self._transport_error(exc) from exc
        finally:
            resp.close()

    async def body_chunks(self, resp: Response) -> AsyncGenerator[bytes, None]:
        """The body of an answer ``open`` returned, as it arrives; closing this closes the exchange."""
        try:
            async for chunk in resp.chunks():
                yield chunk
        except (TimeoutError, HttpFailure) as exc:
            raise self._transport_error(exc) from exc
        finally:
            resp.close()

    async def request_json(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes = b"") -> Any:
        """Send ``body`` as is (a GET has none, a multipart POST has its own type in ``headers``)
        and return the decoded JSON answer; failures raise typed errors."""
        raw = await self.read_body(await self.open(method, url, headers=headers, body=body))
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(f"The {self.config.name} provider answered with invalid JSON.") from exc

    async def post_json(self, url: str, *, headers: Mapping[str, str], body: Any) -> Any:
        """POST ``body`` and return the decoded JSON answer; upstream failures raise typed errors."""
        try:
            resp = await self._post(url, headers, body, stream=False)
            try:
                raw = await resp.read()
            finally:
                resp.close()
        except (TimeoutError, HttpFailure) as exc:
            raise self._transport_error(exc) from exc
        if resp.status >= 400:
            raise self.error(resp.status, raw, resp.headers)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(f"The {self.config.name} provider answered with invalid JSON.") from exc

    async def chunks(self, url: str, *, headers: Mapping[str, str], body: Any) -> AsyncGenerator[bytes, None]:
        """POST ``body`` and yield the answer's body as it arrives (for a stream of server-sent
        events); a failure status raises its typed error before the first chunk.

        Closing this generator (the client went away) closes the upstream connection at once,
        which is how an upstream learns to stop generating.
        """
        try:
            resp = await self._post(url, headers, body, stream=True)
        except (TimeoutError, HttpFailure) as exc:
            raise self._transport_error(exc) from exc
        try:
            if resp.status >= 400:
                try:
                    raw = await resp.read()
                except (TimeoutError, HttpFailure) as exc:
                    raise self._transport_error(exc) from exc
                raise self.error(resp.status, raw, resp.headers)
            try:
                async for chunk in resp.chunks():
                    yield chunk
            except (TimeoutError, HttpFailure) as exc:
                raise self._transport_error(exc) from exc
        finally:
            resp.close()  # back to the pool after a whole answer, else dropped: the upstream sees the cancel

    async def sse(self, url: str, *, headers: Mapping[str, str], body: Any) -> AsyncGenerator[SseEvent, None]:
        """POST ``body`` and yield the server-sent events of the answer (see ``chunks``)."""
        decoder = SseDecoder()
        async with aclosing(self.chunks(url, headers=headers, body=body)) as chunks:
            async for chunk in chunks:
                for event in read_events(decoder, chunk):
                    yield event
        for event in read_events(decoder, None):
            yield event
