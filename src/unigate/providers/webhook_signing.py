"""The signature on a job webhook, and the secret that makes it (``docs/webhooks.md`` is the
receiver's side).

A webhook carries ``X-Unigate-Timestamp: <unix seconds>`` and ``X-Unigate-Signature: v1=<hex>``,
the hex HMAC-SHA256 of ``"{timestamp}.{body}"`` (the raw body bytes) under the secret, as Stripe
signs its events: the timestamp is inside the MAC, so a receiver that also refuses old timestamps
(``verify``'s ``tolerance_s``) cannot be sent a captured delivery again later. The ``v1=`` prefix
leaves room for another scheme, and the header may carry several comma-separated signatures
(during a change of secret), any one of which may match.

**The secret** is a string, used as its UTF-8 bytes, which the operator gives the receivers:

* ``UNIGATE_WEBHOOK_SECRET`` (32+ characters) when set. Needed with several replicas, so that
  every one signs alike.
* Unset: 32 random bytes, hexadecimal, generated at the first start and kept in
  ``<data_dir>/webhook-secret`` (mode 0600, created whole or not at all), where the operator reads
  it; it survives restarts, so receivers keep verifying. Not derived from the media signing
  secret: that one may be unset too (then generated beside the files, possibly in a bucket), and
  rotating it to void the media links would silently change what every receiver must check.
  Not generated per process either: receivers could verify nothing after a restart. Only when the
  file cannot be kept (a read-only data directory) is a key made for the process, with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path

from unigate.settings import Settings

__all__ = ["SCHEME", "SECRET_FILE", "TOLERANCE_S", "sign", "verify", "webhook_secret"]

log = logging.getLogger("unigate.providers")

SCHEME = "v1"
SECRET_FILE = "webhook-secret"
TOLERANCE_S = 300.0
"""How old (or how far ahead) a timestamp ``verify`` accepts by default: five minutes of clock
skew and delivery time."""
MIN_SECRET_CHARS = 32


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Unigate-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(_key(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """As a receiver checks a webhook: whether ``signature`` (the header, possibly several
    comma-separated ``v1=`` values) signs ``body`` at ``timestamp`` under ``secret``, and the
    timestamp is within ``tolerance_s`` of ``now`` (default: the clock). ``body`` is the raw
    request body, as received: a parsed and re-serialized JSON may differ by a byte."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    given = (part.strip().encode("utf-8", "replace") for part in signature.split(","))
    return any(hmac.compare_digest(expected, part) for part in given)


def webhook_secret(settings: Settings) -> str:
    """The secret the settings give, or the one kept in the data directory (module docstring)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    path = settings.data_dir / SECRET_FILE
    try:
        secret = _kept_secret(path)
    except OSError as exc:
        log.warning(
            "UNIGATE_WEBHOOK_SECRET is unset and %s cannot be kept (%s): webhooks are signed with a "
            "key of this process, which receivers cannot know; set the variable",
            path,
            type(exc).__name__,
        )
        return secrets.token_hex(32)
    if settings.uses_postgres:
        log.warning(
            "UNIGATE_WEBHOOK_SECRET is unset: webhooks are signed with the secret kept in %s, which "
            "other replicas do not share; set the variable so that receivers can verify every one",
            path,
        )
    return secret


def _kept_secret(path: Path) -> str:
    """The secret kept at ``path``, created there (0600) if there is none: written to a temporary
    file, then linked into place, which fails if another process got there first (both then use
    the first one's)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"the webhook secret in {path} is damaged: delete it to make a new one")
    return secret
