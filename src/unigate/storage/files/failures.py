"""The media store's own failures (its disk, its bucket) as the 503 a client may retry, the same
for both backends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from unigate.errors import StoreUnavailable

__all__ = ["unavailable_on"]


@contextlib.contextmanager
def unavailable_on(*failures: type[BaseException]) -> Iterator[None]:
    """``failures`` raised in the block become ``StoreUnavailable``; anything else passes."""
    try:
        yield
    except failures as exc:
        raise StoreUnavailable(
            "The media store did not answer; try again shortly.", code="media_store_unavailable"
        ) from exc
