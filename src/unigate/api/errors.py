"""The one place errors become HTTP responses: ``{"error": {"message", "type", "param", "code"}}``,
or Anthropic's ``{"type": "error", "error": {"type", "message"}}`` under ``/v1/messages``
(``api/anthropic/errors.py``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from unigate.api.anthropic.errors import anthropic_error, is_anthropic_path
from unigate.api.context import STORE
from unigate.errors import GatewayError, MethodNotAllowed, NotFound, PayloadTooLarge, StoreUnavailable

__all__ = ["error_middleware", "error_response"]

log = logging.getLogger("unigate.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(err: GatewayError, *, path: str = "") -> web.Response:
    """``err`` as the API at ``path`` writes errors."""
    status, body = anthropic_error(err) if is_anthropic_path(path) else (err.status, err.body())
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=err.headers)


def _from_http(exc: web.HTTPException, request: web.Request) -> GatewayError:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("The request body is larger than this server accepts.")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; use {allowed}.", headers={"Allow": allowed}
        )
    if isinstance(exc, web.HTTPNotFound):
        return NotFound(f"There is no endpoint {request.method} {request.path}.", code="unknown_url")
    err = GatewayError(exc.reason or "HTTP error", code=None)
    err.status = exc.status
    err.type = "invalid_request_error" if exc.status < 500 else "api_error"
    return err


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as err:
        return error_response(err, path=request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http(exc, request), path=request.path)
    except Exception as exc:
        store = request.config_dict.get(STORE)
        if store is not None and isinstance(exc, store.failures):
            # The database is down: nothing was charged or sent upstream (a settlement that fails
            # is kept instead, core/gateway.py), so the client may simply try again.
            log.warning("the store failed on %s %s: %s", request.method, request.path, exc)
            unavailable = StoreUnavailable(
                "The accounts database is unavailable, so this request was not carried out. Try again shortly.",
                headers={"Retry-After": "1"},
            )
            return error_response(unavailable, path=request.path)
        # A bug. The client gets a generic error without internals; the log gets the traceback.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(GatewayError("The server had an error while processing your request."), path=request.path)
