"""What every image adapter reads and writes the same way: sizes, input images, base64 answers,
and several images from an upstream that makes one a call.

**Sizes.** ``ImageRequest.size`` is ``"WIDTHxHEIGHT"``, a named size or ``"auto"``. The named
sizes of the service's image models are fal's presets, and stand for the same pixels everywhere
(``NAMED_SIZES``); an adapter whose upstream takes something else (an aspect ratio, ``W*H``, a
size class such as ``2K``) converts from these.

**Input images.** A ``Source`` holds a URL or bytes. Upstreams that fetch URLs themselves get the
URL; bytes go as a ``data:`` URI or bare base64, as each upstream wants.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from unigate.core.media import Blob, GeneratedImage, Source
from unigate.errors import GatewayError, InvalidRequest, UpstreamError

__all__ = [
    "NAMED_SIZES",
    "aspect_ratio",
    "base64_of",
    "data_uri",
    "decode_image",
    "dimensions",
    "fan_out",
    "image_ref",
    "nearest_ratio",
    "nth_seed",
    "sniffed_type",
]

NAMED_SIZES: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
"""fal's image size presets, width by height."""


def dimensions(size: str | None) -> tuple[int, int] | None:
    """``size`` in pixels: a preset of ``NAMED_SIZES`` or ``"WIDTHxHEIGHT"``; ``None`` for no
    size, ``"auto"`` and names that are not presets (``2K``: the adapter's to read)."""
    if size is None or size == "auto":
        return None
    if size in NAMED_SIZES:
        return NAMED_SIZES[size]
    width, x, height = size.lower().partition("x")
    if not x:
        return None
    # ASCII digits: "²" is a digit to isdigit, and int() refuses it.
    digits = f"{width}{height}"
    if not (digits.isascii() and width.isdigit() and height.isdigit()) or int(width) == 0 or int(height) == 0:
        raise InvalidRequest(f"size must be WIDTHxHEIGHT in pixels, not {size!r}.", param="size")
    return int(width), int(height)


def aspect_ratio(width: int, height: int) -> str:
    """``1024x768`` as ``"4:3"``."""
    g = math.gcd(width, height)
    return f"{width // g}:{height // g}"


def nearest_ratio(width: int, height: int, ratios: Sequence[str]) -> str:
    """The one of ``ratios`` (``"16:9"``...) closest to ``width:height``, compared in log scale so
    that ``2:1`` is as far from ``1:1`` as ``1:2``."""

    def distance(ratio: str) -> float:
        w, _, h = ratio.partition(":")
        return abs(math.log((width / height) / (float(w) / float(h))))

    return min(ratios, key=distance)


def base64_of(blob: Blob) -> str:
    return base64.b64encode(blob.data).decode()


def data_uri(blob: Blob) -> str:
    return f"data:{blob.content_type};base64,{base64_of(blob)}"


def image_ref(source: Source) -> str:
    """An input image as the upstreams that fetch URLs take it: its URL, or its bytes as a
    ``data:`` URI."""
    if source.url is not None:
        return source.url
    if source.blob is None:
        raise InvalidRequest("An input image has neither a URL nor data.", param="image")
    return data_uri(source.blob)


_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def sniffed_type(data: bytes, default: str) -> str:
    """The image type the first bytes show (PNG, JPEG, GIF, WebP), else ``default``: some
    upstreams say none, or say the one asked for rather than the one sent."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return default


def decode_image(data: str, content_type: str, *, provider: str) -> Blob:
    """A base64 image of an answer (bare, or as a ``data:`` URI), typed by its bytes when they
    say, else by the ``data:`` URI's type, else ``content_type``."""
    if data.startswith("data:"):
        header, _, data = data.partition(",")
        content_type = header.removeprefix("data:").split(";")[0] or content_type
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError(f"The {provider} provider returned an image that is not valid base64.") from exc
    return Blob(raw, sniffed_type(raw, content_type))


Images = list[GeneratedImage]


def nth_seed(seed: Any, index: int) -> Any:
    """The seed of the ``index``-th of several calls that make one image each: ``seed + index``,
    as batch generators seed a batch, so that a seeded request for several images does not get
    the same image several times (and the first is the one a single call would make)."""
    return seed + index if isinstance(seed, int) and not isinstance(seed, bool) else seed


async def fan_out(count: int, one: Callable[[int], Coroutine[Any, Any, Images]]) -> Images:
    """``count`` images from an upstream that makes one a call: ``one(i)`` for each ``i`` at once,
    the images in call order. The first failure cancels the other calls and is raised (an
    upstream that billed for an image we then drop is the price of not waiting for calls whose
    request already failed)."""
    if count <= 1:
        return await one(0)
    tasks: list[asyncio.Task[Images]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i)) for i in range(count)]
    except BaseExceptionGroup as failed:
        errors: list[BaseException] = list(failed.exceptions)
        typed = [e for e in errors if isinstance(e, GatewayError)]
        raise (typed or errors)[0] from None
    return [image for task in tasks for image in task.result()]
