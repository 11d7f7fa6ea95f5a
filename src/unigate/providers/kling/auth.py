"""Kling's authentication: every request carries ``Authorization: Bearer <JWT>``, an HS256 token
signed with the secret key whose ``iss`` is the access key, valid from five seconds ago for thirty
minutes (https://app.klingai.com/global/dev/document-api/apiReference/commonInfo). The token is
made for each request (a few microseconds), so that none outlives its validity in a long job.

A deployment's key is the pair ``ACCESS_KEY:SECRET_KEY`` (``registration.py`` makes it from
``KLING_ACCESS_KEY`` and ``KLING_SECRET_KEY``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import orjson

from unigate.errors import UpstreamError

__all__ = ["LIFETIME_S", "SKEW_S", "KlingKeys", "token"]

LIFETIME_S = 1800
SKEW_S = 5
"""``nbf`` this far in the past, for a clock of Kling's a little behind ours."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(access_key: str, secret_key: str, now: float) -> str:
    """The JWT Kling's documentation builds, at ``now`` (Unix seconds)."""
    header = _b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    seconds = int(now)
    claims = _b64url(orjson.dumps({"iss": access_key, "exp": seconds + LIFETIME_S, "nbf": seconds - SKEW_S}))
    signing_input = f"{header}.{claims}".encode()
    signature = hmac.new(secret_key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64url(signature)}"


class KlingKeys:
    """The access and secret keys of one deployment, read from its ``ACCESS:SECRET`` key."""

    def __init__(self, pair: str | None, *, clock: Callable[[], float] = time.time) -> None:
        access, sep, secret = (pair or "").partition(":")
        self.access, self.secret = access.strip(), secret.strip()
        self.complete = bool(sep and self.access and self.secret)
        self.clock = clock

    def authorization(self) -> str:
        if not self.complete:
            # The registration pairs the two variables; a deployment key without its secret ends here.
            raise UpstreamError(
                "The kling provider's key must be the pair ACCESS_KEY:SECRET_KEY (set KLING_ACCESS_KEY and "
                "KLING_SECRET_KEY).",
                code="upstream_auth_failed",
            )
        return f"Bearer {token(self.access, self.secret, self.clock())}"
