"""``BflImages``: Black Forest Labs' API (https://docs.bfl.ai) behind the ``ImageGenerator``
protocol, for the FLUX models BFL serves itself (FLUX1.1 [pro] and [pro] Ultra, FLUX.1 Kontext
[pro] and [max], FLUX.2 [pro]...).

``POST {base}/v1/{endpoint}`` with ``x-key`` answers ``{id, polling_url}``; the polling URL is
asked (``polling.py``) until its ``status`` is ``Ready``, whose ``result.sample`` is a signed
URL of the image (valid for ten minutes: the gateway stores it at once). ``Request Moderated``
and ``Content Moderated`` end the request with a 400 saying so (the prompt or the image was
refused); ``Error`` and ``Task not found`` with a 502. Each call makes one image, so ``count``
images are that many calls at once.

The request: ``width``/``height`` from the size (a preset or ``WxH``), except for the endpoints
that take an ``aspect_ratio`` instead (``ASPECT_ONLY``: Ultra and Kontext), which get the one
asked or the size's; ``seed``, ``safety_tolerance`` (an integer; the service's schemas list it as
strings), ``output_format``, ``raw`` and ``prompt_upsampling`` as they are; input images as
``input_image``, ``input_image_2``... (a URL, which BFL fetches, or bare base64). The
service's fields that BFL has no equal for (``guidance_scale`` and ``num_inference_steps`` of the
Kontext schemas, ``enable_safety_checker``) are not sent.

The polling URL may name a regional host (``api.eu.bfl.ai``); it is used when it is the
configured host or a sibling under the same domain, else ``{base}/v1/get_result?id=``, so that
our key goes nowhere else.
"""

from __future__ import annotations

import base64
from typing import Any, Unpack
from urllib.parse import quote, urlsplit

from unigate.catalog.spec import ModelSpec
from unigate.core.media import GeneratedImage, ImageRequest, ImageResult
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.fastapi_errors import parse_detail_error
from unigate.providers.http import Upstream
from unigate.providers.imaging import aspect_ratio, dimensions, fan_out, nth_seed
from unigate.providers.polling import PollPolicy
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import PollingAdapter, Waits

__all__ = ["ASPECT_ONLY", "POLICY", "BflImages", "request_body"]

POLICY = PollPolicy(first_s=0.5, factor=1.5, max_interval_s=3.0, deadline_s=300.0)
"""BFL's guide polls every half second; its images take seconds, a busy queue minutes."""

ASPECT_ONLY = frozenset({"flux-pro-1.1-ultra", "flux-kontext-pro", "flux-kontext-max"})
MODERATED = frozenset({"Request Moderated", "Content Moderated"})
FAILED = frozenset({"Error", "Failed", "Task not found"})
PASSED = ("seed", "output_format", "raw", "prompt_upsampling")


def _image_value(index: int, request: ImageRequest) -> str:
    source = request.images[index]
    if source.url is not None:
        return source.url
    if source.blob is None:
        raise InvalidRequest("An input image has neither a URL nor data.", param="image_urls")
    return base64.b64encode(source.blob.data).decode()


def request_body(request: ImageRequest, endpoint: str) -> dict[str, Any]:
    """The JSON body of ``POST /v1/{endpoint}`` (the module docstring says what goes where)."""
    options = request.options
    body: dict[str, Any] = {"prompt": request.prompt or ""}
    pixels = dimensions(request.size)
    if endpoint in ASPECT_ONLY:
        ratio = options.get("aspect_ratio") or (aspect_ratio(*pixels) if pixels else None)
        if ratio:
            body["aspect_ratio"] = ratio
    elif pixels is not None:
        body["width"], body["height"] = pixels
    elif request.size not in (None, "auto"):
        raise InvalidRequest(f"size {request.size!r} is not one this model can make.", param="size")
    body.update({k: options[k] for k in PASSED if k in options})
    if request.output_format is not None:
        body["output_format"] = request.output_format
    if "safety_tolerance" in options:
        try:
            body["safety_tolerance"] = int(options["safety_tolerance"])
        except (TypeError, ValueError) as exc:
            raise InvalidRequest("safety_tolerance must be a whole number.", param="safety_tolerance") from exc
    for i in range(len(request.images)):
        body["input_image" if i == 0 else f"input_image_{i + 1}"] = _image_value(i, request)
    return body


def _trusted(url: Any, base: str) -> bool:
    """Whether ``url`` is on the configured host or a sibling of it (``api.eu.bfl.ai`` beside
    ``api.bfl.ai``), over the same scheme."""
    if not isinstance(url, str):
        return False
    target, own = urlsplit(url), urlsplit(base)
    host, own_host = target.hostname or "", own.hostname or ""
    if target.scheme != own.scheme or not host:
        return False
    labels = own_host.split(".")
    parent = ".".join(labels[1:]) if len(labels) > 2 and not own_host.replace(".", "").isdigit() else None
    return host == own_host or (parent is not None and host.endswith("." + parent))


class BflImages(PollingAdapter):
    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None, **waits: Unpack[Waits]) -> None:
        upstream = Upstream(config, parse_error=parse_detail_error, transport=transport or build_transport())
        super().__init__(upstream, POLICY, **waits)

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        if request.mask is not None:
            raise InvalidRequest(f"{model.id} does not take a mask.", param="mask")
        request_body(request, model.upstream_model)

    def _headers(self) -> dict[str, str]:
        return {"x-key": self.config.api_key or ""}

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        endpoint = model.upstream_model
        body = request_body(request, endpoint)
        seeds: list[int] = []

        async def one(index: int) -> list[GeneratedImage]:
            seeded = {**body, "seed": nth_seed(body["seed"], index)} if "seed" in body else body
            url, seed = await self._one(endpoint, seeded)
            if seed is not None:
                seeds.append(seed)
            return [GeneratedImage(url=url)]

        images = await fan_out(request.count, one)
        return ImageResult(tuple(images), model=endpoint, seed=seeds[0] if len(seeds) == 1 else None)

    async def _one(self, endpoint: str, body: dict[str, Any]) -> tuple[str, int | None]:
        submitted = await self.upstream.post_json(self.url(f"v1/{endpoint}"), headers=self._headers(), body=body)
        task = submitted.get("id") if isinstance(submitted, dict) else None
        if not isinstance(task, str) or not task:
            raise UpstreamError(f"The bfl provider accepted a {endpoint} request without an id.")
        returned = submitted.get("polling_url")
        trusted = _trusted(returned, self.config.base_url or "")
        url = str(returned) if trusted else self.url(f"v1/get_result?id={quote(task)}")

        async def check() -> tuple[str, int | None] | None:
            return await self._result(url, task)

        return await self.wait_for(check, f"The bfl provider's task {task}")

    async def _result(self, url: str, task: str) -> tuple[str, int | None] | None:
        data = await self.upstream.request_json("GET", url, headers=self._headers())
        data = data if isinstance(data, dict) else {}
        status = data.get("status")
        if status == "Ready":
            result: Any = data.get("result")
            sample, seed = (result.get("sample"), result.get("seed")) if isinstance(result, dict) else (None, None)
            if not isinstance(sample, str) or not sample:
                raise UpstreamError(f"The bfl provider's task {task} is ready without an image.")
            return sample, seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        if status in MODERATED:
            what = "the request" if status == "Request Moderated" else "the generated image"
            raise InvalidRequest(
                f"The bfl provider's moderation refused {what} ({status}); change the prompt or the input images, "
                "or raise safety_tolerance.",
                code="content_moderated",
            )
        if status in FAILED:
            detail = data.get("details") or data.get("error") or "no details given"
            raise UpstreamError(f"The bfl provider's task {task} failed ({status}): {detail}")
        return None
