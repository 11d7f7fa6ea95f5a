"""Signed links to stored files, and the secret that signs them.

A link is ``{base}/v1/media/{id}?expires={unix seconds}&signature={HMAC-SHA256(secret, id:expires)}``
(the MAC in unpadded URL-safe base64). It is what the answers' ``url`` fields carry, since the SDKs
and browsers that download them send no key. It expires with the file; a link whose ``expires``
was changed or whose signature does not match is refused, compared in constant time.

**The secret** must be the same wherever a link may arrive:

* ``UNIGATE_MEDIA_SECRET`` (at least 32 characters) when set, on either backend. Recommended with
  several replicas: nothing else then needs to be shared, and rotating it voids every link.
* Unset, on local disk: 32 random bytes generated at the first start and kept in
  ``<media dir>/.signing-secret`` (mode 0600), created whole or not at all (written to a temporary
  file, then linked into place, which fails if another process got there first: both then use
  the first one's).
* Unset, on S3: the same, kept as the object ``<prefix>.signing-secret`` in the bucket, created
  with a conditional put (``If-None-Match: *``) so that replicas starting together agree on one,
  and read back by every replica. Whoever can read the bucket can then sign links, which grants
  nothing more than reading the files directly. A store that ignores the condition may keep the
  last of simultaneous first writes while an earlier writer keeps its own: set the variable there.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from unigate.core.files import StoredFile

__all__ = ["SECRET_NAME", "LinkSigner", "local_secret", "new_secret", "parse_secret", "secret_from_setting"]

log = logging.getLogger("unigate.media")

SECRET_NAME = ".signing-secret"
MIN_SECRET_CHARS = 32
_EXPIRES = re.compile(r"[1-9][0-9]{0,11}")


class LinkSigner:
    """Signs and checks links with one secret; ``clock`` gives Unix seconds (tests move it)."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("a link signing secret needs at least 16 bytes")
        self._secret = secret
        self.clock = clock

    def signature(self, file_id: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{file_id}:{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def url(self, file: StoredFile, base_url: str) -> str:
        # Rounded down: a link never outlives its file.
        expires = math.floor(file.expires)
        signature = self.signature(file.id, expires)
        return f"{base_url.rstrip('/')}/v1/media/{file.id}?expires={expires}&signature={signature}"

    def verify(self, file_id: str, expires: str, signature: str) -> bool:
        """Whether ``expires`` and ``signature`` (a link's query) are genuine and unexpired."""
        if _EXPIRES.fullmatch(expires) is None or int(expires) <= self.clock():
            return False
        expected = self.signature(file_id, int(expires)).encode("ascii")
        return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def secret_from_setting(value: str) -> bytes:
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(
            f"UNIGATE_MEDIA_SECRET must be at least {MIN_SECRET_CHARS} characters "
            f"(for instance: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return value.encode("utf-8")


def parse_secret(text: str, where: str) -> bytes:
    """A kept secret (hexadecimal) read back; ``where`` names it in the error."""
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise ValueError(f"the media signing secret in {where} is damaged: delete it to make a new one")
    return secret


def local_secret(folder: Path) -> bytes:
    """The secret kept in ``folder`` (created there, 0600, if there is none)."""
    path = folder / SECRET_NAME
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{SECRET_NAME}.{secrets.token_hex(8)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(new_secret().hex())
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process made one first: theirs holds
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        log.warning("%s was readable by others: made it 0600", path)
        path.chmod(0o600)
    return parse_secret(path.read_text(), str(path))
