"""The observability middleware and ``GET /metrics``.

For every request the middleware takes (or makes) a request id, returned as ``X-Request-Id``,
opens the request's ``RequestRecord`` (``events.py``) for the gateway to fill in, and when the
answer is finished counts it in the metrics and, at log level ``info``, writes the access log
line. It is the outermost middleware, so it sees the status of the error responses too; a client
that leaves before the answer is counted with status 499 (nginx's "client closed request").

Its cost on the hot path is a few microseconds: a clock read on each side, eight random bytes,
a context variable, and a handful of increments on pre-resolved metric children. It opens the
request's server span too (``tracing.py``): the shared no-op span while tracing is off.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from unigate.observability import metrics, tracing
from unigate.observability.events import CURRENT, RequestRecord
from unigate.observability.logging import FIELDS
from unigate.primitives.ids import hex_id

__all__ = ["REQUEST_ID", "metrics_endpoint", "observability_middleware", "send_request_id"]

access_log = logging.getLogger("unigate.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID = web.RequestKey("request_id", str)
"""The key of the request id in ``web.Request`` (``request[REQUEST_ID]``)."""

CLIENT_CLOSED = 499

_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _request_id(given: str | None) -> str:
    """The id a proxy in front gave the request (``X-Request-Id``), if it looks like one; else ours."""
    if given is not None and _GIVEN_ID.fullmatch(given):
        return given
    return hex_id(8)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return "unmatched" if resource is None else resource.canonical


def observability_middleware(*, log_prompts: bool = False) -> Middleware:
    """The middleware; ``log_prompts`` puts each chat request's messages in its log line."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = _request_id(request.headers.get("X-Request-Id"))
        request[REQUEST_ID] = request_id
        record = RequestRecord(request_id, log_prompts=log_prompts)
        route = _route(request)
        record.span = tracing.server_span(request.method, route, request.headers)
        token = CURRENT.set(record)
        status = 500
        try:
            with record.span:  # the trace's root here, or a child of the caller's traceparent
                record.span.set("unigate.request_id", request_id)
                try:
                    response = await handler(request)
                    status = response.status
                    return response
                except web.HTTPException as exc:
                    status = exc.status
                    raise
                except asyncio.CancelledError:
                    status = CLIENT_CLOSED
                    raise
                finally:
                    record.span.set("http.response.status_code", status)
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_request(route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                fields = {
                    "method": request.method,
                    "path": request.path,  # never the query string: nothing secret goes there, and so it stays
                    "route": route,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 1),
                    **record.fields(),
                }
                access_log.info("request", extra={FIELDS: fields})
            CURRENT.reset(token)

    return observe


async def send_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the request id goes out with every answer, streams included."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["X-Request-Id"] = request_id


async def metrics_endpoint(request: web.Request) -> web.Response:
    """``GET /metrics``: the Prometheus text exposition."""
    return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE})
