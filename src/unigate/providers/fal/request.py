"""An ``ImageRequest`` as the input of a fal app, and a fal answer as an ``ImageResult``.

The service documents the fields of the models it runs on fal under fal's own names
(``image_size``, ``num_inference_steps``, ``guidance_scale``, ``enable_safety_checker``,
``acceleration``, ``loras``...), so the options go through as they are; what the canonical
request holds apart is put back: ``count`` as ``num_images`` (sent only past one, as some apps take
none), ``size`` as ``image_size`` (a preset name as is, ``WxH`` as ``{width, height}``),
``output_format``, the input images under the field the app reads (``INPUT_IMAGE_FIELDS``) and the
mask as ``mask_url``. Bytes go as ``data:`` URIs, which fal accepts wherever it takes a file URL.

fal answers ``{images: [{url, width, height, content_type}], seed, ...}`` (one ``image`` for the
single-image apps); an ``url`` that is a ``data:`` URI (``sync_mode``) becomes bytes.
"""

from __future__ import annotations

from typing import Any

from unigate.core.media import GeneratedImage, ImageRequest, ImageResult
from unigate.errors import UpstreamError
from unigate.providers.imaging import NAMED_SIZES, decode_image, dimensions, image_ref

__all__ = ["INPUT_IMAGE_FIELDS", "SERVICE_ONLY", "app_input", "image_result"]

INPUT_IMAGE_FIELDS: dict[str, str] = {
    "fal-ai/flux/dev/image-to-image": "image_url",
    "fal-ai/flux/srpo/image-to-image": "image_url",
    "reve/2.1/edit": "image_url",
    "fal-ai/uso": "input_image_urls",
}
"""Apps that read their input images from another field than ``image_urls`` (a list): one
``image_url``, or USO's ``input_image_urls``."""

SERVICE_ONLY = frozenset({"provider", "convert_base64_to_url"})
"""Fields of the service's schemas that steer the service itself, never an upstream."""


def app_input(request: ImageRequest, app: str) -> dict[str, Any]:
    """The JSON body submitted to ``app``."""
    body: dict[str, Any] = {k: v for k, v in request.options.items() if k not in SERVICE_ONLY}
    if request.prompt is not None:
        body["prompt"] = request.prompt
    if request.count != 1:
        body["num_images"] = request.count
    if request.size is not None and request.size != "auto":
        pixels = dimensions(request.size)
        preset = pixels is None or request.size in NAMED_SIZES
        body["image_size"] = request.size if preset or pixels is None else {"width": pixels[0], "height": pixels[1]}
    if request.output_format is not None:
        body["output_format"] = request.output_format
    if request.images:
        refs = [image_ref(s) for s in request.images]
        field = INPUT_IMAGE_FIELDS.get(app, "image_urls")
        body[field] = refs[0] if field == "image_url" else refs
    if request.mask is not None:
        body["mask_url"] = image_ref(request.mask)
    return body


def _image(item: Any) -> GeneratedImage | None:
    if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"]:
        return None
    url: str = item["url"]
    if url.startswith("data:"):
        return GeneratedImage(blob=decode_image(url, str(item.get("content_type") or "image/png"), provider="fal"))
    return GeneratedImage(url=url)


def image_result(data: Any, app: str) -> ImageResult:
    """The images of a completed request's answer."""
    data = data if isinstance(data, dict) else {}
    items = data.get("images")
    if not isinstance(items, list):
        items = [data.get("image")]
    images = tuple(image for image in map(_image, items) if image is not None)
    if not images:
        raise UpstreamError(f"The fal provider's answer for {app} holds no image.")
    seed = data.get("seed")
    return ImageResult(images, model=app, seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None)
