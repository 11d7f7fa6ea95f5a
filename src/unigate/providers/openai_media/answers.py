"""What an OpenAI-shaped image upstream answers, read into ``GeneratedImage``s.

OpenAI (https://platform.openai.com/docs/api-reference/images/object), xAI and Together all answer
``{"data": [{"b64_json" | "url", ...}]}``: OpenAI adds ``revised_prompt`` (dall-e-3) and the
``output_format`` of the GPT image models, xAI ``mime_type`` and ``revised_prompt`` (its
``b64_json`` may be a whole ``data:`` URI), Together ``index`` and ``type``. Inline images become
``Blob``s; URLs are passed on for the gateway to fetch and keep.

An image's type is read from its first bytes when they say (PNG, JPEG, WebP, GIF), else taken
from what the answer or the request declares: the bytes are what a client will open.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from unigate.core.media import Blob, GeneratedImage
from unigate.errors import UpstreamError

__all__ = ["FORMAT_TYPES", "images_of", "sniff_image"]

FORMAT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}
"""``output_format`` values and the type of the bytes they ask for."""

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image(data: bytes) -> str | None:
    """The image type the first bytes show, ``None`` when they show none we know."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _decoded(provider: str, encoded: str, declared: str | None) -> Blob:
    if encoded.startswith("data:"):
        header, _, encoded = encoded.partition(",")
        declared = header.removeprefix("data:").partition(";")[0] or declared
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError(f"The {provider} provider answered with an image that is not valid base64.") from exc
    if not data:
        raise UpstreamError(f"The {provider} provider answered with an empty image.")
    return Blob(data, sniff_image(data) or declared or "application/octet-stream")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def images_of(data: Any, *, provider: str, output_format: str | None = None) -> tuple[GeneratedImage, ...]:
    """Every image of an answer, in its ``index`` order when it gives one. ``output_format`` is
    the format asked for (or the answer's own), the type of inline bytes that do not say."""
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise UpstreamError(f"The {provider} provider answered without any image.")
    answer_format = data.get("output_format")
    declared_format = FORMAT_TYPES.get(str(answer_format or output_format or "").lower())
    ordered = sorted(
        (item for item in items if isinstance(item, dict)),
        key=lambda item: item["index"] if isinstance(item.get("index"), int) else 0,
    )
    images: list[GeneratedImage] = []
    for item in ordered:
        revised = _text(item.get("revised_prompt"))
        encoded, url = _text(item.get("b64_json")), _text(item.get("url"))
        if encoded is not None:
            blob = _decoded(provider, encoded, _text(item.get("mime_type")) or declared_format)
            images.append(GeneratedImage(blob=blob, revised_prompt=revised))
        elif url is not None:
            images.append(GeneratedImage(url=url, revised_prompt=revised))
        else:
            raise UpstreamError(f"The {provider} provider answered with an image that has neither data nor a URL.")
    if not images:
        raise UpstreamError(f"The {provider} provider answered without any image.")
    return tuple(images)
