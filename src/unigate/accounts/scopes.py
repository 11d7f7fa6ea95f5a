"""Key scopes: which APIs a key may call (the service docs' "API Key Management" page:
``model:chat``, ``model:responses``).

A key with no scopes may call everything: scopes restrict, they are not needed to grant. An
endpoint names the one scope it needs when it calls the gateway; ``model:chat`` covers chat
completions and the chat-shaped APIs (``/v1/completions``, ``/v1/messages``), ``model:responses``
the Responses API.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["CHAT", "RESPONSES", "SCOPES", "Scope", "allows"]

Scope = Literal["model:chat", "model:responses"]

CHAT: Scope = "model:chat"
RESPONSES: Scope = "model:responses"
SCOPES: tuple[Scope, ...] = get_args(Scope)


def allows(scopes: tuple[str, ...], scope: str) -> bool:
    """Whether a key with ``scopes`` may use an endpoint that needs ``scope``."""
    return not scopes or scope in scopes
