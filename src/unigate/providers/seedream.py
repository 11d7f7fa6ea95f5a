"""``SeedreamImages``: ByteDance Seedream through BytePlus ModelArk's image generation API
(``POST {base}/images/generations``, https://docs.byteplus.com/en/docs/ModelArk/1541523), behind
the ``ImageGenerator`` protocol.

The request: ``model``, ``prompt``, ``size``, ``seed``, ``guidance_scale`` (Seedream 3.0),
``watermark`` (ModelArk's default is on, the service's off: it is always sent), ``output_format``
(5.0), the input images of an edit as ``image`` (one URL or ``data:`` URI, or a list of them).
Sizes: a size class (``1K``, ``2K``, ``4K``) and ``WxH`` go as they are; a preset (the v4
schema's ``landscape_4_3``...) becomes ModelArk's recommended 2K size of the nearest aspect
ratio (``RECOMMENDED_2K``), as the 4.x models make nothing below 1280x720, and its own pixels for
Seedream 3.0 (512 to 2048 a side). Images come back as base64 (``response_format: b64_json``), so
nothing is left to fetch from an expiring link. ``num_images`` (the v4 schemas) is that many
calls at once: ModelArk's group generation (``sequential_image_generation``) lets the model
decide how many images to make, which is not what was asked. The service's fal-style fields
ModelArk has no equal for (``enable_safety_checker``, ``sync_mode``) are not sent.

Errors are OpenAI-shaped (``{"error": {"code", "message", "param"}}``); an image the moderation
withheld (``OutputImageSensitiveContentDetected``) is a 400 saying so.
"""

from __future__ import annotations

from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import GeneratedImage, ImageRequest, ImageResult
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream
from unigate.providers.imaging import (
    NAMED_SIZES,
    decode_image,
    dimensions,
    fan_out,
    image_ref,
    nearest_ratio,
    nth_seed,
)
from unigate.providers.openai_compat.response import parse_error
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["RECOMMENDED_2K", "SeedreamImages", "request_body"]

SIZE_CLASSES = frozenset({"1K", "2K", "3K", "4K"})
RECOMMENDED_2K = {
    "1:1": "2048x2048",
    "4:3": "2304x1728",
    "3:4": "1728x2304",
    "16:9": "2560x1440",
    "9:16": "1440x2560",
    "3:2": "2496x1664",
    "2:3": "1664x2496",
    "21:9": "3024x1296",
}
"""ModelArk's recommended width and height for each aspect ratio at 2K."""

PASSED = ("seed", "guidance_scale")
MODERATION_CODES = frozenset({"OutputImageSensitiveContentDetected", "InputImageSensitiveContentDetected"})


def _size(request: ImageRequest, upstream_model: str) -> str | None:
    size = request.size
    if size is None or size == "auto":
        return None
    if size.upper() in SIZE_CLASSES:
        return size.upper()
    pixels = dimensions(size)
    if pixels is None:
        raise InvalidRequest(f"size {size!r} is not one this model can make.", param="size")
    if size in NAMED_SIZES and not upstream_model.startswith("seedream-3"):
        return RECOMMENDED_2K[nearest_ratio(*pixels, list(RECOMMENDED_2K))]
    return f"{pixels[0]}x{pixels[1]}"


def request_body(request: ImageRequest, upstream_model: str) -> dict[str, Any]:
    """The JSON body of one call (the module docstring says what goes where)."""
    options = request.options
    body: dict[str, Any] = {
        "model": upstream_model,
        "prompt": request.prompt or "",
        "response_format": "b64_json",
        "watermark": bool(options.get("watermark", False)),
    }
    size = _size(request, upstream_model)
    if size is not None:
        body["size"] = size
    body.update({k: options[k] for k in PASSED if k in options})
    if request.output_format is not None:
        body["output_format"] = request.output_format
    if request.images:
        refs = [image_ref(s) for s in request.images]
        body["image"] = refs[0] if len(refs) == 1 else refs
    return body


def _failure(error: Any) -> InvalidRequest | UpstreamError:
    error = error if isinstance(error, dict) else {}
    code, message = str(error.get("code") or ""), str(error.get("message") or "no details given")
    if code in MODERATION_CODES:
        return InvalidRequest(
            f"The bytedance provider's moderation withheld the image: {message}", code="content_moderated"
        )
    return UpstreamError(f"The bytedance provider made no image ({code or 'no code'}): {message}")


def images_of(data: Any, output_format: str | None) -> list[GeneratedImage]:
    """The images of an answer; an answer whose every image failed raises the first failure."""
    items = data.get("data") if isinstance(data, dict) else None
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    default_type = f"image/{output_format or 'jpeg'}"
    out: list[GeneratedImage] = []
    for item in items:
        if isinstance(item.get("b64_json"), str) and item["b64_json"]:
            out.append(GeneratedImage(blob=decode_image(item["b64_json"], default_type, provider="bytedance")))
        elif isinstance(item.get("url"), str) and item["url"]:
            out.append(GeneratedImage(url=item["url"]))
    if out:
        return out
    failed = next((i.get("error") for i in items if i.get("error")), None)
    if failed is not None:
        raise _failure(failed)
    raise UpstreamError("The bytedance provider's answer holds no image.")


class SeedreamImages(UpstreamAdapter):
    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport or build_transport()))

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        if request.mask is not None:
            raise InvalidRequest(f"{model.id} does not take a mask.", param="mask")
        request_body(request, model.upstream_model)

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        body = request_body(request, model.upstream_model)
        url = self.url("images/generations")
        headers = {"Authorization": f"Bearer {self.config.api_key or ''}"}
        reported: list[str] = []

        async def one(index: int) -> list[GeneratedImage]:
            seeded = {**body, "seed": nth_seed(body["seed"], index)} if "seed" in body else body
            data = await self.upstream.post_json(url, headers=headers, body=seeded)
            if isinstance(data, dict) and isinstance(data.get("model"), str):
                reported.append(data["model"])
            return images_of(data, request.output_format)

        images = await fan_out(request.count, one)
        return ImageResult(tuple(images), model=reported[0] if reported else model.upstream_model)
