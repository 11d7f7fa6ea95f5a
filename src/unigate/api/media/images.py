"""``POST /v1/images/generations`` and ``POST /v1/images/edits`` (multipart, OpenAI's SDK; JSON
with ``image_url(s)`` too), each also without ``/v1``.

The answer is OpenAI's ``{created, data: [{url | b64_json, revised_prompt?}]}`` with our
``meta.usage``; a ``url`` is the gateway's own signed link to the stored image.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import MEDIA, SETTINGS, STORE
from unigate.api.media.image_request import image_request
from unigate.api.media.links import file_url
from unigate.api.media.uploads import read_form
from unigate.api.meta import meta
from unigate.api.ratelimit_headers import admission_for
from unigate.core.media_flow import DeliveredImage
from unigate.core.services import Modality
from unigate.errors import InvalidRequest

__all__ = ["image_edits", "image_generations"]


async def image_generations(request: web.Request) -> web.Response:
    return await _images(request, edit=False)


async def image_edits(request: web.Request) -> web.Response:
    return await _images(request, edit=True)


async def _images(request: web.Request, *, edit: bool) -> web.Response:
    key = await require_key(request, request.app[STORE])
    media = request.app[MEDIA]
    form = await read_form(request, max_bytes=request.app[SETTINGS].media.max_upload_bytes)
    model = form.fields.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    spec = media.model(model, Modality.IMAGES)
    canonical, response_format = image_request(form.fields, spec, form=form if form.multipart else None, edit=edit)
    images, charge = await media.images(
        canonical, key, response_format=response_format, admission=admission_for(request)
    )
    body = {
        "created": int(time.time()),
        "data": [_item(request, image) for image in images],
        "model": spec.id,
        "meta": meta(charge),
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _item(request: web.Request, image: DeliveredImage) -> dict[str, Any]:
    item: dict[str, Any] = (
        {"b64_json": image.b64_json} if image.file is None else {"url": file_url(request, image.file)}
    )
    if image.revised_prompt:
        item["revised_prompt"] = image.revised_prompt
    return item
