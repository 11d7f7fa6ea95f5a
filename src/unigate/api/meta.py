"""``meta``: our extension on every answer that costs credits, beside the API's own fields (the
OpenAI and Anthropic wires have none for it): ``{"usage": {"credits_used", "usd_spent"}}``, and
``"cache": {"hit": bool}`` when the request asked for the response cache."""

from __future__ import annotations

from typing import Any

from unigate.core.gateway import Charge

__all__ = ["meta"]


def meta(charge: Charge) -> dict[str, Any]:
    """The ``meta`` member of an answer that cost ``charge``."""
    out: dict[str, Any] = {"usage": {"credits_used": charge.credits, "usd_spent": charge.usd}}
    if charge.cache is not None:
        out["cache"] = {"hit": charge.cache}
    return out
