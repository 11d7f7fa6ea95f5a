"""Identifiers that must be unique but need not be secret: completion, message and response ids,
request ids, tool call ids, reservation ids.

They come from a Mersenne Twister seeded from ``os.urandom`` (and seeded again in every forked
worker, so that workers never share a sequence) instead of ``secrets``: a system call per id
costs more than the rest of building it, several times per request. Its output can be predicted
by someone who has seen enough of it, which is harmless here: none of these ids grants anything.
Keys, management keys and console session tokens are secrets and keep using ``secrets``.
"""

from __future__ import annotations

import base64
import os
import random

__all__ = ["hex_id", "urlsafe_id"]

_random = random.Random()  # seeded from os.urandom
os.register_at_fork(after_in_child=_random.seed)


def hex_id(nbytes: int) -> str:
    """``nbytes`` random bytes as ``2 * nbytes`` hexadecimal digits."""
    return _random.randbytes(nbytes).hex()


def urlsafe_id(nbytes: int) -> str:
    """``nbytes`` random bytes in unpadded URL-safe base64, as ``secrets.token_urlsafe``."""
    return base64.urlsafe_b64encode(_random.randbytes(nbytes)).rstrip(b"=").decode("ascii")
