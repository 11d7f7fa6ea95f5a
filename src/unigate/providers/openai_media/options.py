"""The options of a media request that an upstream cannot take.

``options`` hold a model's other fields under the service's documented names, validated against
its reference schema (``core/media.py``). An adapter maps those its upstream has a counterpart
for; any other one is refused with a 400 naming it, before any credit is reserved, rather than
dropped: a client that set it expects it to matter. ``response_format`` and ``stream`` are the
edge's business (how the gateway answers), never an upstream's, so they are never refused here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from unigate.errors import UnsupportedParameter

__all__ = ["EDGE_FIELDS", "refuse_unmapped"]

EDGE_FIELDS = frozenset({"response_format", "stream"})


def refuse_unmapped(options: Mapping[str, Any], mapped: Iterable[str], *, provider: str, model: str) -> None:
    """Raise ``UnsupportedParameter`` for the first option (by name) neither ``mapped`` nor the edge's."""
    known = EDGE_FIELDS.union(mapped)
    for name in sorted(options):
        if name not in known:
            raise UnsupportedParameter(f"{name} is not supported for {model} by its provider ({provider}).", param=name)
