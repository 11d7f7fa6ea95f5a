"""Key scopes: which APIs a key may call (the service's key specs list eight: ``model:chat``,
``model:responses``, ``model:image``, ``model:audio``, ``model:video``, ``model:embeddings``,
``model:speech``, ``model:ocr``).

A key with no scopes may call everything: scopes restrict, they are not needed to grant. An
endpoint names the one scope it needs when it calls the gateway. The docs do not say which scope
covers which endpoint; we decided, as the names read:

- ``model:chat``: chat completions and the chat-shaped APIs (``/v1/completions``, ``/v1/messages``);
- ``model:responses``: the Responses API;
- ``model:embeddings``: ``/v1/embeddings``;
- ``model:image``: image generation and edits (and the 3D models served on the images path);
- ``model:speech``: text to speech (``/v1/tts``, ``/v1/audio/speech``);
- ``model:audio``: speech to text (``/v1/stt*``, ``/v1/audio/transcriptions``, ``/translations``)
  and music generation;
- ``model:ocr``: ``/v1/ocr``;
- ``model:video``: video generation.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "AUDIO",
    "CHAT",
    "EMBEDDINGS",
    "IMAGE",
    "OCR",
    "RESPONSES",
    "SCOPES",
    "SPEECH",
    "VIDEO",
    "Scope",
    "allows",
]

Scope = Literal[
    "model:chat",
    "model:responses",
    "model:image",
    "model:audio",
    "model:video",
    "model:embeddings",
    "model:speech",
    "model:ocr",
]

CHAT: Scope = "model:chat"
RESPONSES: Scope = "model:responses"
IMAGE: Scope = "model:image"
AUDIO: Scope = "model:audio"
VIDEO: Scope = "model:video"
EMBEDDINGS: Scope = "model:embeddings"
SPEECH: Scope = "model:speech"
OCR: Scope = "model:ocr"
SCOPES: tuple[Scope, ...] = get_args(Scope)


def allows(scopes: tuple[str, ...], scope: str) -> bool:
    """Whether a key with ``scopes`` may use an endpoint that needs ``scope``."""
    return not scopes or scope in scopes
