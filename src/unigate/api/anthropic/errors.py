"""Anthropic-shaped errors for the Messages API: ``{"type": "error", "error": {"type", "message"}}``.

https://docs.anthropic.com/en/api/errors. Every error under ``/v1/messages`` (and ``/messages``),
whether a handler raised it or the router did (an unknown sub-path, a wrong method), is rendered
this way by the one error middleware (``api/errors.py``). The status is ours with one exception:
an overloaded model answers 529 ``overloaded_error``, as Anthropic does (the SDKs retry it).
"""

from __future__ import annotations

from typing import Any

from unigate.errors import GatewayError, Overloaded

__all__ = ["PATHS", "anthropic_error", "is_anthropic_path"]

PATHS = ("/v1/messages", "/messages")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""Anthropic's error type per status; other 4xx are ``invalid_request_error``, other 5xx ``api_error``."""


def is_anthropic_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PATHS)


def anthropic_error(err: GatewayError) -> tuple[int, dict[str, Any]]:
    """The status and body of ``err`` on the Anthropic surface."""
    status = 529 if isinstance(err, Overloaded) else err.status
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    return status, {"type": "error", "error": {"type": kind, "message": err.message}}
