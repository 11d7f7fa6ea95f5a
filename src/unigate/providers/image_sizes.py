"""Image sizes in pixels, for upstreams that take a width and a height.

A request's ``size`` arrives as ``"WIDTHxHEIGHT"``, as a named size of the service's ``image_size``
enum or as ``"auto"`` (``core/media.py``). The named sizes (``imaging.py``'s ``NAMED_SIZES``) mean
what fal.ai, whose enum the service documents, makes of them:

===============  ============
name             pixels (WxH)
===============  ============
square_hd        1024x1024
square           512x512
portrait_4_3     768x1024
portrait_16_9    576x1024
landscape_4_3    1024x768
landscape_16_9   1024x576
===============  ============

An aspect ratio (``"16:9"``) becomes the size of that shape with about one megapixel (FLUX's native
area), each side a multiple of 32 as FLUX wants: ``16:9`` is 1376x768, ``1:1`` is 1024x1024.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from unigate.errors import InvalidRequest
from unigate.providers.imaging import NAMED_SIZES

__all__ = ["NAMED_SIZES", "aspect_pixels", "size_pixels"]

_AREA = 1024 * 1024
_STEP = 32
_WXH = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$")


def size_pixels(size: Any, *, param: str = "size") -> tuple[int, int] | None:
    """``(width, height)`` of a ``"WxH"`` string, a named size or a ``{width, height}`` object;
    ``None`` for ``"auto"`` (the upstream's default). Anything else is a 400 naming ``param``."""
    if isinstance(size, Mapping):
        width, height = size.get("width"), size.get("height")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            return width, height
        raise InvalidRequest(f"{param} needs positive integer width and height.", param=param)
    if not isinstance(size, str):
        raise InvalidRequest(f"{param} must be WIDTHxHEIGHT or a named size.", param=param)
    if size == "auto":
        return None
    if size in NAMED_SIZES:
        return NAMED_SIZES[size]
    found = _WXH.match(size)
    if found is None or not all(int(side) > 0 for side in found.groups()):
        names = ", ".join(NAMED_SIZES)
        raise InvalidRequest(f"{param} {size!r} is neither WIDTHxHEIGHT nor one of {names}.", param=param)
    return int(found[1]), int(found[2])


def aspect_pixels(ratio: str, *, param: str = "aspect_ratio") -> tuple[int, int]:
    """``(width, height)`` of about one megapixel in the shape of ``ratio`` (``"16:9"``)."""
    found = _RATIO.match(ratio)
    if found is None or float(found[1]) <= 0 or float(found[2]) <= 0:
        raise InvalidRequest(f"{param} {ratio!r} is not a ratio such as 16:9.", param=param)
    shape = float(found[1]) / float(found[2])
    width = math.sqrt(_AREA * shape)
    height = math.sqrt(_AREA / shape)
    return _stepped(width), _stepped(height)


def _stepped(side: float) -> int:
    return max(_STEP, _STEP * round(side / _STEP))
