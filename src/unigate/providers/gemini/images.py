"""``GeminiImages``: Google's image models on the Gemini API behind the ``ImageGenerator``
protocol, beside the chat adapter of the same deployment, whose connection (``x-goog-api-key``,
error parsing) and URL fetcher it shares.

* **Gemini image models** (``gemini-2.5-flash-image``, ``gemini-3-pro-image``,
  ``gemini-3.1-flash-image``): ``:generateContent`` with ``generationConfig.responseModalities
  ["TEXT", "IMAGE"]`` and ``imageConfig`` (``aspectRatio``, ``imageSize`` from ``resolution``);
  the prompt, then the input images of an edit as ``inlineData`` parts (a client's URL is fetched
  here first, through ``fetch.py``, as Gemini reads no web URLs). The answer's non-thought
  ``inlineData`` parts are the images; one call makes one, so ``count`` images are that many
  calls at once. ``enable_web_search`` adds the Google Search tool, ``seed`` goes in
  ``generationConfig``. No image, with a safety finish reason or a blocked prompt, is a 400.
* **Imagen** (``imagen-*``): ``:predict`` with ``instances[{prompt}]`` and ``parameters``
  (``sampleCount``, ``aspectRatio`` — the one asked or the size's nearest —,
  ``personGeneration``, ``negativePrompt``, ``seed``, ``enhancePrompt``, ``addWatermark``,
  ``safetySetting``, as Google's SDK names them), answering ``predictions[{bytesBase64Encoded,
  mimeType}]``. Google shut Imagen down on the Gemini API (the 06-06 previews in February 2026,
  Imagen 4 in August 2026), so the catalog routes no model here; the code stays for deployments
  whose base URL serves the same ``:predict`` (Vertex AI behind a proxy that signs its requests).
"""

from __future__ import annotations

from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import GeneratedImage, ImageRequest, ImageResult, Source
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.fetch import Fetcher, FetchError
from unigate.providers.http import Upstream
from unigate.providers.imaging import (
    aspect_ratio,
    base64_of,
    decode_image,
    dimensions,
    fan_out,
    nearest_ratio,
    nth_seed,
)

__all__ = ["GEMINI_RATIOS", "IMAGEN_RATIOS", "GeminiImages"]

IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGEN_OPTIONS = {
    "person_generation": "personGeneration",
    "negative_prompt": "negativePrompt",
    "seed": "seed",
    "enhance_prompt": "enhancePrompt",
    "add_watermark": "addWatermark",
    "safety_setting": "safetySetting",
}
BLOCKING = frozenset(
    {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"}
)


def _ratio(request: ImageRequest, allowed: tuple[str, ...]) -> str | None:
    asked = request.options.get("aspect_ratio")
    if asked:
        return str(asked)
    pixels = dimensions(request.size)
    if pixels is None:
        return None
    exact = aspect_ratio(*pixels)
    return exact if exact in allowed else nearest_ratio(*pixels, allowed)


def imagen_body(request: ImageRequest) -> dict[str, Any]:
    parameters: dict[str, Any] = {"sampleCount": request.count}
    ratio = _ratio(request, IMAGEN_RATIOS)
    if ratio is not None:
        parameters["aspectRatio"] = ratio
    parameters.update(
        {ours: request.options[theirs] for theirs, ours in IMAGEN_OPTIONS.items() if theirs in request.options}
    )
    return {"instances": [{"prompt": request.prompt or ""}], "parameters": parameters}


def gemini_body(request: ImageRequest, inline: list[tuple[str, str]]) -> dict[str, Any]:
    """``inline``: the input images as (media type, base64)."""
    parts: list[dict[str, Any]] = [{"text": request.prompt or ""}]
    parts += [{"inlineData": {"mimeType": kind, "data": data}} for kind, data in inline]
    image_config: dict[str, Any] = {}
    ratio = _ratio(request, GEMINI_RATIOS)
    if ratio is not None:
        image_config["aspectRatio"] = ratio
    if request.options.get("resolution"):
        image_config["imageSize"] = str(request.options["resolution"]).upper()
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    if "seed" in request.options:
        config["seed"] = request.options["seed"]
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}
    if request.options.get("enable_web_search"):
        body["tools"] = [{"googleSearch": {}}]
    return body


def gemini_images(data: Any) -> list[GeneratedImage]:
    """The images of a ``GenerateContentResponse``; none raises what the answer says."""
    data = data if isinstance(data, dict) else {}
    candidates = [c for c in data.get("candidates") or () if isinstance(c, dict)]
    images: list[GeneratedImage] = []
    for candidate in candidates:
        content: Any = candidate.get("content")
        for part in content.get("parts") or () if isinstance(content, dict) else ():
            inline = part.get("inlineData") if isinstance(part, dict) and not part.get("thought") else None
            if isinstance(inline, dict) and isinstance(inline.get("data"), str):
                kind = str(inline.get("mimeType") or "image/png")
                images.append(GeneratedImage(blob=decode_image(inline["data"], kind, provider="gemini")))
    if images:
        return images
    feedback = data.get("promptFeedback") if isinstance(data.get("promptFeedback"), dict) else {}
    reasons = [str(feedback["blockReason"])] if feedback.get("blockReason") else []
    reasons += [str(c["finishReason"]) for c in candidates if c.get("finishReason")]
    if any(r in BLOCKING for r in reasons) or feedback.get("blockReason"):
        raise InvalidRequest(
            f"The gemini provider's safety filters withheld the image ({', '.join(reasons)}).", code="content_filtered"
        )
    raise UpstreamError(f"The gemini provider answered without an image ({', '.join(reasons) or 'no reason given'}).")


def imagen_images(data: Any) -> list[GeneratedImage]:
    predictions = data.get("predictions") if isinstance(data, dict) else None
    predictions = [p for p in predictions or () if isinstance(p, dict)]
    images = [
        GeneratedImage(
            blob=decode_image(p["bytesBase64Encoded"], str(p.get("mimeType") or "image/png"), provider="gemini")
        )
        for p in predictions
        if isinstance(p.get("bytesBase64Encoded"), str)
    ]
    if images:
        return images
    filtered = [str(p["raiFilteredReason"]) for p in predictions if p.get("raiFilteredReason")]
    if filtered or not predictions:
        why = "; ".join(filtered) or "every image was filtered"
        raise InvalidRequest(
            f"The gemini provider's safety filters withheld the images: {why}", code="content_filtered"
        )
    raise UpstreamError("The gemini provider's answer holds no image.")


class GeminiImages:
    """Serves images over the connection and fetcher of the chat adapter it is given, which
    starts and closes them."""

    def __init__(self, config: ProviderConfig, upstream: Upstream, fetcher: Fetcher) -> None:
        self.name = config.name
        self.config = config
        self.upstream = upstream
        self.fetcher = fetcher

    async def start(self) -> None:
        """Nothing of its own to start: the chat adapter starts the shared connection."""

    async def close(self) -> None:
        """Nothing of its own to close (see ``start``)."""

    def _url(self, model: ModelSpec, method: str) -> str:
        return f"{self.config.base_url}/v1beta/models/{model.upstream_model.removeprefix('models/')}:{method}"

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.api_key or ""}

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        if request.mask is not None:
            raise InvalidRequest(f"{model.id} does not take a mask; describe the change in the prompt.", param="mask")
        if model.upstream_model.startswith("imagen"):
            if request.images:
                raise InvalidRequest(f"{model.id} makes images from text only.", param="image_urls")
            imagen_body(request)
            return
        gemini_body(request, [])
        for i, source in enumerate(request.images):
            if source.url is not None:
                try:
                    self.fetcher.vet(source.url)  # a refused address fails before any credit is reserved
                except FetchError as exc:
                    raise InvalidRequest(
                        f"Input image {i} cannot be used: {exc.message}.", param="image_urls", code="invalid_image_url"
                    ) from exc

    async def _inline(self, index: int, source: Source) -> tuple[str, str]:
        if source.blob is not None:
            return source.blob.content_type, base64_of(source.blob)
        try:
            fetched = await self.fetcher.fetch(source.url or "")
        except FetchError as exc:
            raise InvalidRequest(
                f"Input image {index} cannot be used: {exc.message}.", param="image_urls", code="invalid_image_url"
            ) from exc
        return fetched.media_type, fetched.data_uri().partition(",")[2]

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        if model.upstream_model.startswith("imagen"):
            data = await self.upstream.post_json(
                self._url(model, "predict"), headers=self._headers(), body=imagen_body(request)
            )
            return ImageResult(tuple(imagen_images(data)), model=model.upstream_model)
        inline = [await self._inline(i, s) for i, s in enumerate(request.images)]
        body = gemini_body(request, inline)
        versions: list[str] = []

        async def one(index: int) -> list[GeneratedImage]:
            config = body["generationConfig"]
            call = body
            if "seed" in config:
                call = {**body, "generationConfig": {**config, "seed": nth_seed(config["seed"], index)}}
            data = await self.upstream.post_json(
                self._url(model, "generateContent"), headers=self._headers(), body=call
            )
            if isinstance(data, dict) and isinstance(data.get("modelVersion"), str):
                versions.append(data["modelVersion"])
            return gemini_images(data)

        images = await fan_out(request.count, one)
        return ImageResult(tuple(images), model=versions[0] if versions else model.upstream_model)
