"""The requests of OpenAI's image endpoints (https://platform.openai.com/docs/api-reference/images).

* ``POST /images/generations``: JSON.
* ``POST /images/edits``: ``multipart/form-data`` with the uploaded files (``image``, or
  ``image[]`` once per image when there are several, and ``mask``); when an input is a URL, the
  JSON form instead (``images: [{image_url}]``, ``mask: {image_url}``), where OpenAI fetches the
  URLs and the uploaded ones go as ``data:`` URIs. Only the GPT image models take JSON edits and
  several images; ``dall-e-2`` edits one uploaded PNG; ``dall-e-3`` edits nothing.

The GPT image models (``gpt-image-*``, ``chatgpt-image-*``) always answer base64 and refuse
``response_format``; the DALL·E models are asked for ``b64_json`` too, so that the images arrive
with the answer instead of as links that expire within the hour and must be fetched again.
A request with input images is an edit wherever it arrived: ``/images/generations`` takes none.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.media import Blob, ImageRequest, Source
from unigate.errors import InvalidRequest
from unigate.providers.multipart import encode_multipart
from unigate.providers.openai_media.options import refuse_unmapped

__all__ = ["MAPPED_OPTIONS", "check_image_request", "edit_body", "generation_body", "is_edit", "is_gpt_image"]

MAPPED_OPTIONS = ("style", "background", "moderation", "output_compression", "input_fidelity")
"""The service's fields that OpenAI takes under the same names (``style`` is dall-e-3's)."""

_GPT_IMAGE = ("gpt-image", "chatgpt-image")


def is_gpt_image(model: ModelSpec) -> bool:
    return model.upstream_model.startswith(_GPT_IMAGE)


def is_edit(request: ImageRequest) -> bool:
    return request.edit or bool(request.images)


def check_image_request(request: ImageRequest, model: ModelSpec, *, provider: str) -> None:
    """What OpenAI would refuse, said before any credit is reserved."""
    if not request.prompt:
        raise InvalidRequest(f"{model.id} needs a prompt.", param="prompt")
    refuse_unmapped(request.options, MAPPED_OPTIONS, provider=provider, model=model.id)
    if not is_edit(request):
        return
    if not request.images:
        raise InvalidRequest("An image edit needs at least one image.", param="image")
    if is_gpt_image(model):
        return
    if model.upstream_model != "dall-e-2":
        raise InvalidRequest(f"{model.id} cannot edit images.", param="model")
    if len(request.images) > 1:
        raise InvalidRequest(f"{model.id} edits one image at a time.", param="image")
    if any(source.blob is None for source in (*request.images, request.mask) if source is not None):
        raise InvalidRequest(f"{model.id} edits uploaded files only, not URLs.", param="image")


def _fields(request: ImageRequest, model: ModelSpec) -> dict[str, Any]:
    """Every field but the model, the prompt and the images, as OpenAI names them."""
    fields: dict[str, Any] = {"n": request.count}
    if request.size is not None:
        fields["size"] = request.size
    if request.quality is not None:
        fields["quality"] = request.quality
    if request.output_format is not None:
        fields["output_format"] = request.output_format
    fields.update((name, request.options[name]) for name in MAPPED_OPTIONS if name in request.options)
    if request.user is not None:
        fields["user"] = request.user
    if not is_gpt_image(model):
        fields["response_format"] = "b64_json"
    return fields


def generation_body(request: ImageRequest, model: ModelSpec) -> dict[str, Any]:
    return {"model": model.upstream_model, "prompt": request.prompt, **_fields(request, model)}


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _data_uri(blob: Blob) -> str:
    return f"data:{blob.content_type};base64,{base64.b64encode(blob.data).decode()}"


def _reference(source: Source) -> dict[str, str]:
    if source.blob is not None:
        return {"image_url": _data_uri(source.blob)}
    return {"image_url": source.url or ""}


def edit_body(request: ImageRequest, model: ModelSpec) -> tuple[bytes, str]:
    """The body of an edit and its ``Content-Type``: multipart when every input is uploaded."""
    fields = _fields(request, model)
    inputs = [*request.images, *([request.mask] if request.mask is not None else [])]
    if any(source.blob is None for source in inputs):
        body: dict[str, Any] = {
            "model": model.upstream_model,
            "prompt": request.prompt,
            "images": [_reference(source) for source in request.images],
            **fields,
        }
        if request.mask is not None:
            body["mask"] = _reference(request.mask)
        return orjson.dumps(body), "application/json"
    form = {"model": model.upstream_model, "prompt": request.prompt or ""}
    form.update((name, _form_value(value)) for name, value in fields.items())
    name = "image[]" if len(request.images) > 1 else "image"
    files = [(name, source.blob) for source in request.images if source.blob is not None]
    if request.mask is not None and request.mask.blob is not None:
        files.append(("mask", request.mask.blob))
    return encode_multipart(form, files)
