"""An ``ImageRequest`` as DashScope's native bodies.

Two protocols (https://www.alibabacloud.com/help/en/model-studio/text-to-image-v2-api-reference,
.../qwen-image-api, .../qwen-image-edit-api):

* **Tasks** (Wan 2.5 and earlier text-to-image, ``TASK_MODELS``): ``POST /api/v1/services/aigc/
  text2image/image-synthesis`` with ``X-DashScope-Async: enable``, body ``{model, input: {prompt,
  negative_prompt}, parameters: {size, n, prompt_extend, watermark, seed}}``; one task makes all
  ``n`` images.
* **Multimodal generation** (Qwen-Image, Qwen-Image-Edit, Qwen-Image 2.0, Wan 2.6 and later,
  Z-Image): ``POST /api/v1/services/aigc/multimodal-generation/generation``, synchronous, body
  ``{model, input: {messages: [{role: user, content: [{text}, {image}...]}]}, parameters: {size,
  negative_prompt, prompt_extend, watermark, seed}}``; one image a call. Qwen-Image-Edit's
  reference puts the images before the instruction, the others' the text first.

Input images: the request's, then Qwen-Image-Edit's own ``image`` field (a URL, or base64 that
goes as a ``data:`` URI). Options: ``negative_prompt`` and ``seed`` as they are; ``enhance_prompt`` or
``enable_prompt_expansion`` as ``prompt_extend``; ``watermark`` always (the service's default,
off). Sizes are ``W*H``; each model family takes its own range (``size_param``). The service's
fal-style fields DashScope has no equal for (``num_inference_steps``, ``guidance_scale``,
``acceleration``, ``enable_safety_checker``, ``output_format``) are not sent.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from unigate.core.media import ImageRequest
from unigate.errors import InvalidRequest
from unigate.providers.imaging import dimensions, image_ref, nearest_ratio, sniffed_type

__all__ = ["TASK_MODELS", "is_task", "size_param", "sync_body", "task_body"]

TASK_MODELS = ("wan2.5-t2i", "wan2.2-t2i", "wan2.1-t2i", "wanx")
"""Prefixes of the models served as tasks; every other one is served synchronously."""

FIXED_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "qwen-image": {
        "16:9": (1664, 928),
        "4:3": (1472, 1140),
        "1:1": (1328, 1328),
        "3:4": (1140, 1472),
        "9:16": (928, 1664),
    },
}
"""Models that make only these sizes (Qwen-Image, Qwen-Image-Plus): the one of the nearest
aspect ratio is asked for."""

AREAS: dict[str, tuple[int, int]] = {"wan2.5-t2i": (768 * 768, 1440 * 1440), "wan2.6": (1280 * 1280, 1440 * 1440)}
"""Models that take any size whose pixel count is in a range: a size outside is scaled into it."""

SIDES: dict[str, tuple[int, int]] = {"wan2.2-t2i": (512, 1440), "wan2.1-t2i": (512, 1440), "wanx": (512, 1440)}
"""Models whose every side must be in a range: a size outside is scaled into it."""

STEP = 16


def _family(model: str, table: dict[str, Any]) -> Any:
    return next((v for prefix, v in table.items() if model.startswith(prefix)), None)


def _scaled(width: int, height: int, factor: float, *, up: bool) -> tuple[int, int]:
    rounding = math.ceil if up else math.floor
    return (max(STEP, rounding(width * factor / STEP) * STEP), max(STEP, rounding(height * factor / STEP) * STEP))


def size_param(request: ImageRequest, model: str) -> str | None:
    """The ``size`` parameter (``W*H``) for ``model``, or ``None`` for its default."""
    if request.size is None or request.size == "auto":
        return None
    pixels = dimensions(request.size)
    if pixels is None:
        raise InvalidRequest(f"size {request.size!r} is not one this model can make.", param="size")
    width, height = pixels
    fixed = FIXED_SIZES.get(model.removesuffix("-plus")) if model.startswith("qwen-image") else None
    if fixed is not None:
        width, height = fixed[nearest_ratio(width, height, list(fixed))]
    elif (area := _family(model, AREAS)) is not None:
        low, high = area
        if width * height < low:
            width, height = _scaled(width, height, math.sqrt(low / (width * height)), up=True)
        elif width * height > high:
            width, height = _scaled(width, height, math.sqrt(high / (width * height)), up=False)
    elif (sides := _family(model, SIDES)) is not None:
        low, high = sides
        if max(width, height) > high:
            width, height = _scaled(width, height, high / max(width, height), up=False)
        if min(width, height) < low:
            width, height = _scaled(width, height, low / min(width, height), up=True)
        # A ratio past high:low cannot be kept: the long side is cut to the limit.
        width, height = min(max(width, low), high), min(max(height, low), high)
    return f"{width}*{height}"


def is_task(model: str) -> bool:
    return model.startswith(TASK_MODELS)


def _parameters(request: ImageRequest, model: str) -> dict[str, Any]:
    options = request.options
    parameters: dict[str, Any] = {"watermark": bool(options.get("watermark", False))}
    size = size_param(request, model)
    if size is not None:
        parameters["size"] = size
    extend = options.get("enhance_prompt", options.get("enable_prompt_expansion"))
    if extend is not None:
        parameters["prompt_extend"] = bool(extend)
    if "seed" in options:
        parameters["seed"] = options["seed"]
    return parameters


def task_body(request: ImageRequest, model: str) -> dict[str, Any]:
    """The body that creates a text-to-image task making every image of the request."""
    prompt: dict[str, Any] = {"prompt": request.prompt or ""}
    if "negative_prompt" in request.options:
        prompt["negative_prompt"] = request.options["negative_prompt"]
    parameters = {**_parameters(request, model), "n": request.count}
    return {"model": model, "input": prompt, "parameters": parameters}


def _image_field(value: Any) -> str:
    """Qwen-Image-Edit's ``image``: a URL or ``data:`` URI as it is, bare base64 as a ``data:`` URI."""
    text = str(value).strip()
    if text.startswith(("http://", "https://", "data:")):
        return text
    try:
        head = base64.b64decode(text[:24] + "=" * (-len(text[:24]) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("image must be an image URL or base64.", param="image") from exc
    return f"data:{sniffed_type(head, 'image/png')};base64,{text}"


def sync_body(request: ImageRequest, model: str) -> dict[str, Any]:
    """The body of one multimodal generation call (one image)."""
    text = [{"text": request.prompt or ""}]
    refs = [image_ref(s) for s in request.images]
    if request.options.get("image"):
        refs.append(_image_field(request.options["image"]))
    images = [{"image": ref} for ref in refs]
    content = [*images, *text] if model.startswith("qwen-image-edit") else [*text, *images]
    parameters = _parameters(request, model)
    if "negative_prompt" in request.options:
        parameters["negative_prompt"] = request.options["negative_prompt"]
    return {"model": model, "input": {"messages": [{"role": "user", "content": content}]}, "parameters": parameters}
