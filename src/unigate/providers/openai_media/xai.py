"""``XaiImages``: xAI's image generation, ``POST {base_url}/images/generations`` (base
``https://api.x.ai/v1``; https://docs.x.ai/docs/api-reference, "Image generations").

xAI takes OpenAI's ``model``, ``prompt``, ``n``, ``response_format`` and ``user``, and its own
``aspect_ratio`` (``1:1``, ``16:9``, ... ``auto``), ``resolution`` (``1k``, ``2k``) and ``quality``;
it refuses ``size`` and ``style`` ("Argument not supported"), so a ``size`` is refused here first.
Images are asked as ``b64_json``, which xAI may write as a whole ``data:`` URI and types in
``mime_type``; a prompt its moderation blocks comes back with ``block_reason`` and no images, a 400.
The service documents no xAI model on ``/v1/images/edits``, so input images are refused.

xAI's errors are ``{"code": "<kind>", "error": "<message>"}``, which the OpenAI-compatible parser
reads; a wrong key comes back as a 400 ("Incorrect API key provided: ..."), which is read as the
401 it stands for, so that our client never sees a 400 quoting part of our key.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import ImageRequest, ImageResult
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.openai_compat import parse_error
from unigate.providers.openai_media.adapter import MediaAdapter
from unigate.providers.openai_media.answers import images_of
from unigate.providers.openai_media.options import refuse_unmapped

__all__ = ["XaiImages", "parse_xai_error"]

MAPPED_OPTIONS = ("aspect_ratio", "resolution")


def parse_xai_error(body: bytes) -> UpstreamFailure:
    failure = parse_error(body)
    if (failure.message or "").startswith("Incorrect API key provided"):
        return replace(failure, status=401)
    return failure


class XaiImages(MediaAdapter):
    """The image models of one xAI deployment, over the transport of ``upstream`` with xAI's
    error reader."""

    def __init__(self, upstream: Upstream) -> None:
        super().__init__(Upstream(upstream.config, parse_error=parse_xai_error, transport=upstream.transport))

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        if not request.prompt:
            raise InvalidRequest(f"{model.id} needs a prompt.", param="prompt")
        refuse_unmapped(request.options, MAPPED_OPTIONS, provider=self.name, model=model.id)
        if request.edit or request.images or request.mask is not None:
            raise InvalidRequest(f"{model.id} takes no input images.", param="image")
        for param, value in (("size", request.size), ("output_format", request.output_format)):
            if value is not None and value != "auto":
                raise UnsupportedParameter(f"{param} is not supported for {model.id} by xAI.", param=param)

    def body(self, request: ImageRequest, model: ModelSpec) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model.upstream_model,
            "prompt": request.prompt,
            "n": request.count,
            "response_format": "b64_json",
        }
        body.update((name, request.options[name]) for name in MAPPED_OPTIONS if name in request.options)
        if request.quality is not None:
            body["quality"] = request.quality
        if request.user is not None:
            body["user"] = request.user
        return body

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        url = self.url("images/generations")
        data = await self.upstream.post_json(url, headers=self.headers(), body=self.body(request, model))
        reason = data.get("block_reason") if isinstance(data, dict) else None
        if reason and not data.get("data"):
            message = f"The {self.name} provider refused the prompt: {reason}"
            raise InvalidRequest(message, param="prompt", code="content_policy_violation")
        return ImageResult(images_of(data, provider=self.name, output_format="jpeg"), model=model.upstream_model)
