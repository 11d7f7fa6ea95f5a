"""``TogetherImages``: Together's image generation, ``POST {base_url}/images/generations`` (base
``https://api.together.xyz/v1``; https://docs.together.ai/reference/post-images-generations),
serving the catalog's FLUX models.

The service's fields, as Together names them:

==========================================  ==============================================
service (``ImageRequest``)                  Together
==========================================  ==============================================
``count`` (``num_images``)                  ``n``
``size`` / ``image_size``: ``WxH``, a       ``width``, ``height`` (``image_sizes.py`` has
named size, ``{width, height}``             the pixels of each named size)
``aspect_ratio`` (Kontext), when no size    ``width``, ``height`` of about one megapixel
``num_inference_steps``                     ``steps``
``seed``, ``guidance_scale``,               the same
``negative_prompt``
``enable_safety_checker``                   ``disable_safety_checker``, negated
``output_format`` (``jpeg``, ``png``)       the same
input images (``image_url(s)``)             ``reference_images`` for FLUX.2 (several),
                                            ``image_url`` for the others (one)
==========================================  ==============================================

Together has nothing for ``safety_tolerance``, ``strength``, ``acceleration`` or
``enable_prompt_expansion``; those, a ``webp`` output and a mask are refused with a 400 naming
them. Input images go as their URLs, which Together fetches; uploaded ones as ``data:`` URIs.
Images are asked as ``base64``; the answer is ``{id, model, object: "list", data: [{index,
b64_json | url, type}]}``, its errors OpenAI's shape.
"""

from __future__ import annotations

import base64
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import ImageRequest, ImageResult, Source
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.providers.image_sizes import aspect_pixels, size_pixels
from unigate.providers.openai_media.adapter import MediaAdapter
from unigate.providers.openai_media.answers import images_of
from unigate.providers.openai_media.options import refuse_unmapped

__all__ = ["TogetherImages"]

RENAMED = {
    "num_inference_steps": "steps",
    "seed": "seed",
    "guidance_scale": "guidance_scale",
    "negative_prompt": "negative_prompt",
}
MAPPED_OPTIONS = (*RENAMED, "enable_safety_checker", "aspect_ratio", "image_size")
OUTPUT_FORMATS = ("jpeg", "png")
_REFERENCE_MODELS = ("black-forest-labs/FLUX.2", "google/")
"""Models that take several input images as ``reference_images`` (Together's image guide)."""


def _takes_references(model: ModelSpec) -> bool:
    return model.upstream_model.startswith(_REFERENCE_MODELS)


def _url(source: Source) -> str:
    if source.blob is not None:
        return f"data:{source.blob.content_type};base64,{base64.b64encode(source.blob.data).decode()}"
    return source.url or ""


def _dimensions(request: ImageRequest) -> tuple[int, int] | None:
    if request.size is not None:
        return size_pixels(request.size)
    if "image_size" in request.options:
        return size_pixels(request.options["image_size"], param="image_size")
    ratio = request.options.get("aspect_ratio")
    if isinstance(ratio, str) and ratio != "auto":
        return aspect_pixels(ratio)
    return None


class TogetherImages(MediaAdapter):
    """The image models of one Together deployment."""

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        if not request.prompt:
            raise InvalidRequest(f"{model.id} needs a prompt.", param="prompt")
        refuse_unmapped(request.options, MAPPED_OPTIONS, provider=self.name, model=model.id)
        if request.output_format is not None and request.output_format not in OUTPUT_FORMATS:
            raise UnsupportedParameter(
                f"{model.id} makes jpeg or png through Together, not {request.output_format}.", param="output_format"
            )
        if request.mask is not None:
            raise UnsupportedParameter(f"{model.id} takes no mask.", param="mask")
        if len(request.images) > 1 and not _takes_references(model):
            raise InvalidRequest(f"{model.id} takes one input image.", param="image_url")
        _dimensions(request)  # a malformed size or ratio is a 400 now, not after the reservation

    def body(self, request: ImageRequest, model: ModelSpec) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model.upstream_model,
            "prompt": request.prompt,
            "n": request.count,
            "response_format": "base64",
        }
        dimensions = _dimensions(request)
        if dimensions is not None:
            body["width"], body["height"] = dimensions
        body.update((RENAMED[name], value) for name, value in request.options.items() if name in RENAMED)
        if "enable_safety_checker" in request.options:
            body["disable_safety_checker"] = not request.options["enable_safety_checker"]
        if request.output_format is not None:
            body["output_format"] = request.output_format
        if request.images and _takes_references(model):
            body["reference_images"] = [_url(source) for source in request.images]
        elif request.images:
            body["image_url"] = _url(request.images[0])
        return body

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        url = self.url("images/generations")
        data = await self.upstream.post_json(url, headers=self.headers(), body=self.body(request, model))
        # Together makes jpeg unless asked otherwise.
        images = images_of(data, provider=self.name, output_format=request.output_format or "jpeg")
        reported = data.get("model") if isinstance(data, dict) else None
        return ImageResult(images, model=reported if isinstance(reported, str) and reported else model.upstream_model)
