"""Typed gateway errors; each class knows its HTTP status and OpenAI error ``type``/``code``.

Every failure the API reports is one of these, rendered once (``api/errors.py``) as
``{"error": {"message", "type", "param", "code"}}``::

    GatewayError (500 api_error)
    ├── InvalidRequest (400 invalid_request_error)
    │   ├── UnsupportedParameter (400, code unsupported_parameter)
    │   ├── UnsupportedContent (400, code unsupported_content)
    │   └── ContextLengthExceeded (400, code context_length_exceeded)
    ├── AuthenticationError (401 authentication_error, code invalid_api_key)
    ├── PermissionDenied (403 permission_error)
    ├── InsufficientCredits (402 insufficient_quota, code insufficient_credits)
    │   └── SpendingLimitExceeded (402, code spending_limit_exceeded)
    ├── NotFound (404 invalid_request_error)
    │   └── ModelNotFound (404, code model_not_found)
    ├── MethodNotAllowed (405)
    ├── PayloadTooLarge (413)
    ├── RangeNotSatisfiable (416)
    ├── RateLimited (429 rate_limit_error)
    ├── UpstreamError (502 api_error, code upstream_error)
    ├── Overloaded (503 overloaded_error, code model_overloaded)
    ├── ProviderNotConfigured (503 api_error, code provider_not_configured)
    ├── ModelUnavailable (503 api_error, code model_unavailable)
    └── UpstreamTimeout (504 timeout_error)

Handlers never build error bodies themselves: they raise, and the middleware renders.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ContextLengthExceeded",
    "GatewayError",
    "InsufficientCredits",
    "InvalidRequest",
    "MethodNotAllowed",
    "ModelNotFound",
    "ModelUnavailable",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderNotConfigured",
    "RangeNotSatisfiable",
    "RateLimited",
    "SpendingLimitExceeded",
    "StoreUnavailable",
    "UnsupportedContent",
    "UnsupportedParameter",
    "UpstreamError",
    "UpstreamTimeout",
]


class GatewayError(Exception):
    """Base of every error the gateway reports to a client."""

    status: int = 500
    type: str = "api_error"
    code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI-style error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnsupportedParameter(InvalidRequest):
    """A parameter the target model cannot honour: rejected, never silently dropped."""

    code = "unsupported_parameter"


class UnsupportedContent(InvalidRequest):
    """A content part (image, file, ...) the target model cannot read."""

    code = "unsupported_content"


class ContextLengthExceeded(InvalidRequest):
    """A prompt that does not fit the model's context (OpenAI's code): refused, never cut to fit.
    The message names the sizes (the embedded model's, or the upstream's own words)."""

    code = "context_length_exceeded"


class AuthenticationError(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class InsufficientCredits(GatewayError):
    """The account cannot cover the worst case of the request (checked before any upstream call).

    402 is what credit-based OpenAI-compatible gateways (OpenRouter) send; the ``type`` is
    OpenAI's ``insufficient_quota`` so SDK users recognise it.
    """

    status = 402
    type = "insufficient_quota"
    code = "insufficient_credits"


class SpendingLimitExceeded(InsufficientCredits):
    """The key's own spending limit (``limit.threshold`` USD per ``limit.retention``) cannot cover
    the worst case of the request, although the account's balance might.

    402 like ``InsufficientCredits`` (as OpenRouter answers for an exhausted key limit), not 429:
    waiting and retrying does not help before the period resets, and the SDKs retry 429s.
    """

    code = "spending_limit_exceeded"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RangeNotSatisfiable(GatewayError):
    """A ``Range`` that starts past the end of a stored file (sent with ``Content-Range: */size``)."""

    status = 416
    type = "invalid_request_error"
    code = "range_not_satisfiable"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamError(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_error"


class Overloaded(GatewayError):
    """The model's queue is full or a request waited too long for it (sent with Retry-After)."""

    status = 503
    type = "overloaded_error"
    code = "model_overloaded"


class StoreUnavailable(GatewayError):
    """The accounts database did not answer (down, unreachable, disk failing) before anything was
    charged or sent upstream: the request can be sent again (503 with Retry-After)."""

    status = 503
    type = "api_error"
    code = "store_unavailable"


class ProviderNotConfigured(GatewayError):
    """The model's provider has no credentials (or, self-hosted, no base URL) on this server.

    503, not 400: the request is valid and the operator, not the client, has to act; the message
    names the missing setting (``ANTHROPIC_API_KEY``, ``VLLM_BASE_URL``). Raised when the gateway
    looks the provider up (``core/services.py``), so before any credit is reserved or any upstream
    is called.
    """

    status = 503
    type = "api_error"
    code = "provider_not_configured"


class ModelUnavailable(GatewayError):
    """A catalogued model that no upstream reachable here serves (its developer offers no public
    API): 503 like an unconfigured provider, with the reason, never a 404 for a listed model."""

    status = 503
    type = "api_error"
    code = "model_unavailable"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"
