"""``TopazImages``: Topaz Labs' Image API (https://developer.topazlabs.com, OpenAPI "Image API"
1.2.0, base ``https://api.topazlabs.com/image/v1``) behind the ``ImageGenerator`` protocol, for
the Sharpen models (``sharpen``: Standard, Strong, Lens Blur, Motion Blur, Natural, Refocus...;
``sharpen-gen``: the generative Super Focus), which only Topaz serves.

A job is submitted with ``POST {base}/{endpoint}/async``, a ``multipart/form-data`` body with
``X-API-Key``: the input as an ``image`` file or a ``source_url`` Topaz fetches, ``model``,
``output_format``, and the model's settings (``strength``, ``minor_denoise``, ``focus_boost``,
``subject_detection``, ``face_enhancement``...) as more form fields, which Topaz reads for the
models they apply to. It answers ``{process_id, source_id, eta}``; ``GET {base}/status/{id}`` is
asked (``polling.py``) until its ``status`` is ``Completed`` (``Pending`` and ``Processing``
before; ``Failed`` and ``Cancelled`` end it), then ``GET {base}/download/{id}`` gives a presigned
``download_url`` valid for an hour, which the gateway stores at once.

The service's ``mode`` is Topaz's ``model``; its ``image_url`` is the one input image. The
endpoint is the catalog route's upstream name. Errors are ``{code, message}`` bodies.
"""

from __future__ import annotations

from typing import Any, Unpack

from unigate.catalog.spec import ModelSpec
from unigate.core.media import Blob, GeneratedImage, ImageRequest, ImageResult
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media_wire import message_failure
from unigate.providers.multipart import encode_multipart
from unigate.providers.polling import PollPolicy
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import PollingAdapter, Waits

__all__ = ["POLICY", "TopazImages", "job_form"]

POLICY = PollPolicy(first_s=1.0, factor=1.5, max_interval_s=5.0, deadline_s=300.0)
"""Topaz's standard models end within seconds; its generative ones, it says, take minutes."""

ENDED = frozenset({"Failed", "Cancelled"})
ENDPOINTS = frozenset({"sharpen", "sharpen-gen"})

SERVICE_ONLY = frozenset({"provider"})
"""Fields of the service's schemas that steer the service itself, never an upstream."""

_SUFFIXES = {"image/png": "png", "image/jpeg": "jpg", "image/tiff": "tif", "image/webp": "webp", "image/gif": "gif"}


def _parse_error(body: bytes) -> UpstreamFailure:
    return message_failure(body)  # {"code", "message"}


def _text(value: Any) -> str:
    # Form fields are strings; the booleans as JSON writes them.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def job_form(request: ImageRequest, endpoint: str) -> tuple[dict[str, str], list[tuple[str, Blob]]]:
    """The form fields and the file of a job for ``endpoint``; a request Topaz cannot take fails
    here, before any credit is reserved."""
    if endpoint not in ENDPOINTS:
        raise InvalidRequest(f"The topaz provider has no endpoint {endpoint!r}.", param="model")
    if len(request.images) != 1:
        raise InvalidRequest("Topaz's Sharpen models take exactly one input image (image_url).", param="image_url")
    for name, value in (("prompt", request.prompt), ("size", request.size), ("mask", request.mask)):
        if value is not None:
            raise UnsupportedParameter(f"Topaz's Sharpen models take no {name}.", param=name)
    if request.count != 1:
        raise UnsupportedParameter("Topaz's Sharpen models make one image from one input.", param="n")
    options = {k: v for k, v in request.options.items() if k not in SERVICE_ONLY and v is not None}
    fields = {"model" if k == "mode" else k: _text(v) for k, v in options.items()}
    if request.output_format is not None:
        fields["output_format"] = request.output_format
    source = request.images[0]
    if source.url is not None:
        return {**fields, "source_url": source.url}, []
    if source.blob is None:
        raise InvalidRequest("The input image has neither a URL nor data.", param="image_url")
    blob = source.blob
    name = blob.filename or f"image.{_SUFFIXES.get(blob.content_type, 'png')}"
    return fields, [("image", Blob(blob.data, blob.content_type, name))]


class TopazImages(PollingAdapter):
    """Topaz's Sharpen models (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None, **waits: Unpack[Waits]) -> None:
        upstream = Upstream(config, parse_error=_parse_error, transport=transport or build_transport())
        super().__init__(upstream, POLICY, **waits)

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        job_form(request, model.upstream_model)

    def _headers(self) -> dict[str, str]:
        return {"X-API-Key": self.config.api_key or ""}

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        endpoint = model.upstream_model
        fields, files = job_form(request, endpoint)
        body, content_type = encode_multipart(fields, files)
        headers = {**self._headers(), "Content-Type": content_type}
        job = await self.upstream.request_json("POST", self.url(f"{endpoint}/async"), headers=headers, body=body)
        process_id = job.get("process_id") if isinstance(job, dict) else None
        if not isinstance(process_id, str) or not process_id:
            raise UpstreamError(f"The {self.name} provider accepted a {endpoint} job without a process_id.")
        reported: dict[str, Any] = {}

        async def status() -> bool | None:
            data = await self.upstream.request_json("GET", self.url(f"status/{process_id}"), headers=self._headers())
            state = data.get("status") if isinstance(data, dict) else None
            if state == "Completed":
                reported.update(data)
                return True
            if state in ENDED:
                raise UpstreamError(f"The {self.name} provider's {endpoint} job {process_id} ended {state.lower()}.")
            return None  # Pending, Processing, or a status this adapter does not know yet

        await self.wait_for(status, f"The {self.name} provider's {endpoint} job {process_id}")
        link = await self.upstream.request_json("GET", self.url(f"download/{process_id}"), headers=self._headers())
        url = link.get("download_url") if isinstance(link, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise UpstreamError(f"The {self.name} provider's {endpoint} job {process_id} gave no download link.")
        return ImageResult((GeneratedImage(url=url),), model=str(reported.get("model") or endpoint))
