"""``GeminiVideo``: Google's Veo models on the Gemini API behind the ``JobRunner`` protocol, over
the chat adapter's connection (``x-goog-api-key``, Gemini's error reader).

* ``POST /v1beta/models/{model}:predictLongRunning`` with ``{instances: [{prompt, image,
  lastFrame, referenceImages, video}], parameters: {...}}``, the wire the Google Gen AI SDK
  builds for the Gemini API (``_GenerateVideosParameters_to_mldev`` and
  ``_GenerateVideosConfig_to_mldev`` in google/genai/models.py). Input images go as
  ``{bytesBase64Encoded, mimeType}`` and an input video as ``{encodedVideo, encoding}``: the
  Gemini API reads no web URLs, so a client's URL is fetched here first (``fetch.py``: public
  addresses only, size-limited).
* The service's fields: ``image_url`` → ``image``; ``last_image_url`` / ``tail_image_url`` →
  ``lastFrame``; ``image_urls`` → ``referenceImages`` (``referenceType: asset``, at most three);
  ``video_url`` (extend) → ``video``; ``aspect_ratio`` → ``aspectRatio`` (``auto`` leaves the
  source's); ``resolution`` → ``resolution`` (lower case); ``duration`` → ``durationSeconds``
  (always sent, from the priced length, but not for an extension, whose length is fixed);
  ``negative_prompt`` → ``negativePrompt``; ``enhance_prompt`` → ``enhancePrompt``.
* What the Gemini API cannot take is refused (400) in ``check_job``: ``seed`` (Vertex AI only,
  the SDK refuses it for the Gemini API), ``generate_audio: false`` (Veo 3 always makes audio
  there, and the SDK refuses the field), ``auto_fix: true`` (the service's own retry of a refused
  prompt; Google has no such option).
* The operation (``{name}``) is asked at ``GET /v1beta/{name}`` until ``done``: then ``error``
  (google.rpc.Status) or ``response.generateVideoResponse.generatedSamples[].video.uri``, a
  ``files/...:download`` link that needs our key (``video_jobs.keyed_file``; its redirect to a
  signed link is handed on as is). No sample but ``raiMediaFilteredReasons``: the safety filters
  withheld the video.

The Gemini API takes no idempotency key or caller's id for an operation, so ``reference`` goes
nowhere.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.fetch import Fetcher, FetchError, FetchPolicy
from unigate.providers.http import Upstream
from unigate.providers.media_types import IMAGE_AND_PDF_TYPES, VIDEO_TYPES
from unigate.providers.task_jobs import get_task, lost
from unigate.providers.upstream_adapter import UpstreamAdapter
from unigate.providers.video_jobs import (
    check_options,
    failed,
    keyed_file,
    object_at,
    option_url,
    option_urls,
)

__all__ = ["INPUT_POLICY", "TIMING", "GeminiVideo"]

TIMING = JobTiming(first_s=15.0, factor=1.5, max_interval_s=20.0, deadline_s=3600.0)
"""Google puts a Veo generation between 11 seconds and 6 minutes; its samples poll every 10 s."""

INPUT_POLICY = FetchPolicy(media_types=IMAGE_AND_PDF_TYPES | VIDEO_TYPES)
"""Input images and the video to extend, at most 20 MB each (the Gemini API's inline limit)."""

MAPPED = (
    "image_url",
    "last_image_url",
    "tail_image_url",
    "image_urls",
    "video_url",
    "aspect_ratio",
    "resolution",
    "duration",
    "negative_prompt",
    "enhance_prompt",
)
INERT = {"generate_audio": True, "auto_fix": False}
IMAGE_INPUTS = ("image_url", "last_image_url", "tail_image_url")
MAX_REFERENCES = 3


class GeminiVideo(UpstreamAdapter):
    timing = TIMING
    inline = False

    def __init__(self, upstream: Upstream, fetcher: Fetcher | None = None) -> None:
        super().__init__(upstream)
        self.fetcher = fetcher or Fetcher(INPUT_POLICY)

    async def start(self) -> None:
        await super().start()
        await self.fetcher.start()

    async def close(self) -> None:
        await self.fetcher.close()
        await super().close()

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.api_key or ""}

    def _api(self, path: str) -> str:
        return self.url(f"v1beta/{path}")

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        if not request.prompt:
            raise InvalidRequest(f"{model.id} needs a prompt.", param="prompt")
        options = request.options
        check_options(options, MAPPED, provider=self.name, model=model.id, inert=INERT)
        if len(option_urls(options, "image_urls")) > MAX_REFERENCES:
            raise InvalidRequest(f"{model.id} takes at most {MAX_REFERENCES} reference images.", param="image_urls")
        for name in (*IMAGE_INPUTS, "video_url"):
            self._vet(option_url(options, name), name)
        for url in option_urls(options, "image_urls"):
            self._vet(url, "image_urls")

    def _vet(self, url: str | None, param: str) -> None:
        if url is None or url.startswith("data:"):
            return
        try:
            self.fetcher.vet(url)  # a refused address fails before any credit is reserved
        except FetchError as exc:
            raise InvalidRequest(f"{param} cannot be used: {exc.message}.", param=param) from exc

    async def _inline(self, url: str, param: str) -> tuple[str, str]:
        """The media type and base64 of an input: a ``data:`` URI as it is, a URL fetched."""
        if url.startswith("data:"):
            head, _, data = url.partition(",")
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidRequest(f"{param} is not a base64 data URI.", param=param) from exc
            return head.removeprefix("data:").partition(";")[0] or "application/octet-stream", data
        try:
            fetched = await self.fetcher.fetch(url)
        except FetchError as exc:
            raise InvalidRequest(f"{param} cannot be used: {exc.message}.", param=param) from exc
        return fetched.media_type, fetched.data_uri().partition(",")[2]

    async def _image(self, url: str, param: str) -> dict[str, str]:
        mime, data = await self._inline(url, param)
        return {"bytesBase64Encoded": data, "mimeType": mime}

    async def body(self, request: GenerationRequest) -> dict[str, Any]:
        """The ``:predictLongRunning`` body (see the module docstring)."""
        options = request.options
        instance: dict[str, Any] = {"prompt": request.prompt or ""}
        image = option_url(options, "image_url")
        if image is not None:
            instance["image"] = await self._image(image, "image_url")
        for name in ("last_image_url", "tail_image_url"):
            last = option_url(options, name)
            if last is not None:
                instance["lastFrame"] = await self._image(last, name)
        references = option_urls(options, "image_urls")
        if references:
            instance["referenceImages"] = [
                {"image": await self._image(url, "image_urls"), "referenceType": "asset"} for url in references
            ]
        video = option_url(options, "video_url")
        if video is not None:
            mime, data = await self._inline(video, "video_url")
            instance["video"] = {"encodedVideo": data, "encoding": mime}
        return {"instances": [instance], "parameters": _parameters(request, extend=video is not None)}

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        url = self._api(f"models/{model.upstream_model.removeprefix('models/')}:predictLongRunning")
        data = await self.upstream.post_json(url, headers=self._headers(), body=await self.body(request))
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or "/operations/" not in name:
            raise UpstreamError(f"The {self.name} provider accepted a video without an operation name.")
        return Submitted(upstream_id=name)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        name = job.upstream_id
        data = await get_task(self.upstream, self._api(name), self._headers())
        if data is None:
            return lost(self.name, name)
        if not isinstance(data, dict):
            raise UpstreamError(f"The {self.name} provider answered an operation's status with no object.")
        if not data.get("done"):
            return Progress(JobStatus.GENERATING)
        error = data.get("error")
        if isinstance(error, dict):
            return failed(self.name, name, error.get("message") or error.get("status"))
        response = object_at(data, "response")
        answer = object_at(response, "generateVideoResponse")
        for sample in answer.get("generatedSamples") or ():
            video = sample.get("video") if isinstance(sample, dict) else None
            if isinstance(video, dict):
                file = await self._file(video)
                if file is not None:
                    return Progress(JobStatus.COMPLETED, files=(file,))
        reasons = [str(r) for r in answer.get("raiMediaFilteredReasons") or ()]
        if reasons:
            return failed(self.name, name, "the safety filters withheld the video: " + " ".join(reasons))
        return failed(self.name, name, "the operation ended with no video")

    async def _file(self, video: dict[str, Any]) -> GeneratedFile | None:
        encoded = video.get("encodedVideo")
        kind = str(video.get("encoding") or "video/mp4")
        if isinstance(encoded, str) and encoded:
            try:
                return GeneratedFile(field="video", blob=Blob(base64.b64decode(encoded), kind), content_type=kind)
            except (binascii.Error, ValueError) as exc:
                raise UpstreamError(f"The {self.name} provider's video is not valid base64.") from exc
        uri = video.get("uri")
        if not isinstance(uri, str) or not uri:
            return None
        if uri.startswith(f"{(self.config.base_url or '').rstrip('/')}/"):
            return await keyed_file(self.upstream, uri, self._headers(), field="video")
        return GeneratedFile(field="video", url=uri)  # a link elsewhere is public: our key never goes there


def _parameters(request: GenerationRequest, *, extend: bool) -> dict[str, Any]:
    options = request.options
    parameters: dict[str, Any] = {}
    ratio = options.get("aspect_ratio")
    if ratio and ratio != "auto":
        parameters["aspectRatio"] = ratio
    if options.get("resolution"):
        parameters["resolution"] = str(options["resolution"]).lower()
    seconds = options.get("duration", request.duration_s)
    if seconds and not extend:
        parameters["durationSeconds"] = int(seconds)
    if "negative_prompt" in options:
        parameters["negativePrompt"] = options["negative_prompt"]
    if "enhance_prompt" in options:
        parameters["enhancePrompt"] = bool(options["enhance_prompt"])
    return parameters
