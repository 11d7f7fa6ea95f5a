"""API key material: generation, hashing and the visible prefix.

Keys are 32 lowercase hex characters (128 random bits) as in the seeds' examples; the prefix, the
first 8 characters, names a key afterwards (the service docs' "API Key Management" page). Only the SHA-256 of a key is
stored: keys are high-entropy, so a fast hash is enough, and lookups go by prefix with a
constant-time comparison of the hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["PREFIX_LENGTH", "digest", "matches", "new_key", "new_management_key", "prefix_of"]

PREFIX_LENGTH = 8


def new_key() -> str:
    return secrets.token_hex(16)


def new_management_key() -> str:
    """Management keys look different (``mk-``) so that they are not mistaken for API keys."""
    return "mk-" + secrets.token_hex(24)


def prefix_of(key: str) -> str:
    return key[:PREFIX_LENGTH]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(key), stored_digest)
