"""The body of ``POST /v1/images/generations`` and ``/v1/images/edits`` as a canonical
``ImageRequest``: both request families (OpenAI's ``n``/``size``/``quality``/``response_format``
and the service's ``num_images``/``image_size``/``seed``/... with ``image_url(s)``), validated
against the model's own reference schema (``catalog/fields.py``).

OpenAI's SDK sends ``n`` and ``size`` to any model its user names; for a model whose schema has
``num_images`` / ``image_size`` instead, they are read as those (``size`` ``"WxH"`` as
``{width, height}``), as OpenRouter and LiteLLM translate them. ``response_format`` and ``user``
are the gateway's (it stores or inlines the images itself), accepted for every model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from unigate.api.media.uploads import Form, image_type, source_of
from unigate.catalog.fields import request_schema
from unigate.catalog.spec import ModelSpec
from unigate.core.media import Blob, ImageRequest, Source
from unigate.errors import InvalidRequest

__all__ = ["MAX_IMAGES", "ResponseFormat", "image_request"]

ResponseFormat = Literal["url", "b64_json"]

MAX_IMAGES = 10
"""``n`` for a model without a schema that bounds it (OpenAI's own limit)."""

_WXH = re.compile(r"^(\d{2,5})x(\d{2,5})$")

_OPENAI_FIELDS = frozenset(
    {"model", "prompt", "n", "size", "quality", "style", "output_format", "background", "moderation"}
    | {"output_compression", "image", "mask", "num_images", "image_size"}
)
"""What a model without a reference schema accepts: OpenAI's own fields, and the service's two
names for the count and the size."""

_FORM_NUMBERS = {
    "n": int,
    "num_images": int,
    "seed": int,
    "num_inference_steps": int,
    "output_compression": int,
    "guidance_scale": float,
    "strength": float,
}
"""Fields of OpenAI's that arrive as text in a multipart edit, for a model without a schema (the
schemas parse their own: ``RequestSchema.validate(form=True)``)."""


def _count(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 1:
        raise InvalidRequest(f"'{param}' must be a whole number of images, at least 1.", param=param)
    return int(value)


def _size(value: Any) -> str | None:
    """``"WxH"``, a named size, or ``{width, height}`` as one string."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return f"{value.get('width', '')}x{value.get('height', '')}"
    return str(value)


def _from_form(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for name, kind in _FORM_NUMBERS.items():
        if isinstance(out.get(name), str):
            try:
                out[name] = kind(out[name])
            except ValueError:
                raise InvalidRequest(f"'{name}' must be a number.", param=name) from None
    return out


def _inputs(fields: dict[str, Any], form: Form | None) -> tuple[tuple[Source, ...], Source | None]:
    images: list[Source] = [Source(blob=b) for b in form.all_files("image")] if form else []
    url = fields.pop("image_url", None)
    if url is not None:
        images.append(source_of(url, "image_url"))
    for i, item in enumerate(fields.pop("image_urls", None) or ()):
        images.append(source_of(item, f"image_urls[{i}]"))
    mask_file = form.file("mask") if form else None
    mask_url = fields.pop("mask_url", None)
    mask = Source(blob=mask_file) if mask_file else source_of(mask_url, "mask_url") if mask_url else None
    checked = [_checked(s, "mask" if s is mask else "image") for s in [*images, *([mask] if mask else [])]]
    return tuple(checked[: len(images)]), checked[-1] if mask else None


def _checked(source: Source, param: str) -> Source:
    """``source`` with its file's type read from its bytes (a client's label is not trusted)."""
    if source.blob is None:
        return source
    kind = image_type(source.blob.data)
    if kind is None:
        raise InvalidRequest(f"The file {source.blob.filename!r} is not a PNG, JPEG, GIF or WebP image.", param=param)
    return Source(blob=Blob(source.blob.data, kind, source.blob.filename))


def image_request(
    body: dict[str, Any], spec: ModelSpec, *, form: Form | None = None, edit: bool = False
) -> tuple[ImageRequest, ResponseFormat]:
    """The canonical request of ``body`` for ``spec``, and how the client wants the images."""
    fields = dict(body)
    response_format: ResponseFormat = "url"
    match fields.pop("response_format", None):
        case None | "url":
            pass
        case "b64_json":
            response_format = "b64_json"
        case _:
            raise InvalidRequest("'response_format' must be 'url' or 'b64_json'.", param="response_format")
    user = fields.pop("user", None)
    if fields.get("stream") is False:  # the SDKs may send the default; streamed images are not served
        del fields["stream"]
    schema = request_schema(spec, edit=edit)
    if schema is not None:
        names = schema.fields
        if "n" in fields and "n" not in names and "num_images" in names:
            fields["num_images"] = fields.pop("n")
        if "size" in fields and "size" not in names and "image_size" in names:
            size = fields.pop("size")
            match = _WXH.match(size) if isinstance(size, str) else None
            fields["image_size"] = {"width": int(match[1]), "height": int(match[2])} if match else size
        # The edit's files are the form's, not fields the schema describes.
        fields = schema.validate(fields, ignore=("image", "mask") if form is not None else (), form=form is not None)
    else:
        fields = _from_form(fields) if form is not None else fields
        unknown = sorted(set(fields) - _OPENAI_FIELDS)
        if unknown:
            raise InvalidRequest(f"The model {spec.id!r} does not accept the field {unknown[0]!r}.", param=unknown[0])
    fields.pop("model", None)
    prompt = fields.pop("prompt", None)
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidRequest("'prompt' must be a string.", param="prompt")
    n_param = "num_images" if "num_images" in fields else "n"
    count = _count(fields.pop(n_param), n_param) if n_param in fields else 1
    if schema is None and count > MAX_IMAGES:
        raise InvalidRequest(f"'n' must be at most {MAX_IMAGES}.", param="n")
    size = _size(fields.pop("size", None) or fields.pop("image_size", None))
    images, mask = _inputs(fields, form)
    if edit and not images:
        raise InvalidRequest("An edit needs at least one input image ('image').", param="image")
    request = ImageRequest(
        model=spec.id,
        prompt=prompt,
        count=count,
        size=size,
        quality=fields.pop("quality", None),
        output_format=fields.pop("output_format", None),
        images=images,
        mask=mask,
        options=fields,
        edit=edit,
        user=user if isinstance(user, str) else None,
    )
    return request, response_format
