"""``SeedanceVideo``: ByteDance Seedance through BytePlus ModelArk's video generation tasks, behind
the ``JobRunner`` protocol (https://docs.byteplus.com/en/docs/ModelArk/1520757 and 1521309).

* ``POST {base}/contents/generations/tasks`` with ``{model, content, ratio, resolution,
  duration, seed, camera_fixed, watermark, generate_audio}``: the generation settings as the
  top-level fields ModelArk documents (rather than the older ``--rs 720p --dur 5`` commands
  appended to the prompt). ``content`` holds the prompt as ``{type: text}``, then the inputs:
  ``image_url`` as ``{type: image_url, role: first_frame}``, ``last_image_url`` as ``last_frame``,
  ``image_urls`` as ``reference_image``, ``video_url(s)`` as ``{type: video_url, role:
  reference_video}``, ``audio_url(s)`` as ``{type: audio_url, role: reference_audio}``
  (ModelArk fetches URLs and takes ``data:`` URIs for images).
* ``resolution`` and ``duration`` are always sent (the asked ones, else the priced variant's and
  length), so that what is made is what was reserved; ``watermark`` too (the service's default
  is off). ``camerafixed`` (Seedance 1.0's schema) and ``camera_fixed`` are ModelArk's
  ``camera_fixed``.
* ``GET {base}/contents/generations/tasks/{id}``: ``status`` ``queued`` / ``running`` /
  ``succeeded`` (``content.video_url``, a signed link valid 24 hours; ``duration`` made) /
  ``failed`` (``error: {code, message}``) / ``cancelled`` / ``expired``.

Errors are OpenAI-shaped (``openai_compat``'s reader). ModelArk takes no idempotency key or
caller's id for a task, so ``reference`` goes nowhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream
from unigate.providers.openai_compat.response import parse_error
from unigate.providers.task_jobs import get_task, lost, required_text
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import UpstreamAdapter
from unigate.providers.video_jobs import (
    check_options,
    failed,
    object_at,
    option_url,
    option_urls,
    seconds_of,
)

__all__ = ["TIMING", "SeedanceVideo", "task_body"]

TIMING = JobTiming(first_s=10.0, factor=1.5, max_interval_s=30.0, deadline_s=2 * 3600.0)
"""A Seedance clip takes from under a minute (lite, 480p) to several (2.0, 1080p)."""

MAPPED = (
    "image_url",
    "last_image_url",
    "image_urls",
    "video_url",
    "video_urls",
    "audio_url",
    "audio_urls",
    "aspect_ratio",
    "resolution",
    "duration",
    "seed",
    "camerafixed",
    "camera_fixed",
    "watermark",
    "generate_audio",
)
STATUS = {"queued": JobStatus.QUEUED, "running": JobStatus.GENERATING}
ENDED = frozenset({"failed", "cancelled", "expired"})


def _media(kind: str, role: str, url: str) -> dict[str, Any]:
    return {"type": kind, kind: {"url": url}, "role": role}


def _content(request: GenerationRequest) -> list[dict[str, Any]]:
    options = request.options
    first, last = option_url(options, "image_url"), option_url(options, "last_image_url")
    references = option_urls(options, "image_urls")
    videos = [*filter(None, [option_url(options, "video_url")]), *option_urls(options, "video_urls")]
    audios = [*filter(None, [option_url(options, "audio_url")]), *option_urls(options, "audio_urls")]
    if last is not None and first is None:
        raise InvalidRequest("last_image_url needs an image_url (the first frame).", param="last_image_url")
    if first is not None and (references or videos or audios):
        raise InvalidRequest(
            "A first frame (image_url) cannot be combined with reference images, videos or audio.", param="image_url"
        )
    if audios and not (references or videos):
        raise InvalidRequest("Reference audio needs a reference image or video beside it.", param="audio_urls")
    content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt or ""}]
    if first is not None:
        content.append(_media("image_url", "first_frame", first))
    if last is not None:
        content.append(_media("image_url", "last_frame", last))
    content += [_media("image_url", "reference_image", url) for url in references]
    content += [_media("video_url", "reference_video", url) for url in videos]
    content += [_media("audio_url", "reference_audio", url) for url in audios]
    return content


def task_body(request: GenerationRequest, model: ModelSpec) -> dict[str, Any]:
    """The JSON body that creates the task (see the module docstring)."""
    options = request.options
    body: dict[str, Any] = {"model": model.upstream_model, "content": _content(request)}
    if options.get("aspect_ratio"):
        body["ratio"] = options["aspect_ratio"]
    resolution = options.get("resolution") or request.variant.partition(":")[0]
    if resolution:
        body["resolution"] = str(resolution).lower()
    seconds = options.get("duration", request.duration_s)
    if seconds:
        body["duration"] = int(seconds)
    if "seed" in options:
        body["seed"] = options["seed"]
    fixed = options.get("camera_fixed", options.get("camerafixed"))
    if fixed is not None:
        body["camera_fixed"] = bool(fixed)
    body["watermark"] = bool(options.get("watermark", False))
    if "generate_audio" in options:
        body["generate_audio"] = bool(options["generate_audio"])
    return body


class SeedanceVideo(UpstreamAdapter):
    timing = TIMING
    inline = False

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport or build_transport()))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        if not request.prompt:
            raise InvalidRequest(f"{model.id} needs a prompt.", param="prompt")
        check_options(request.options, MAPPED, provider=self.name, model=model.id)
        if model.id.endswith("-i2v") and option_url(request.options, "image_url") is None:
            raise InvalidRequest(f"{model.id} needs an image_url.", param="image_url")
        task_body(request, model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        url = self.url("contents/generations/tasks")
        data = await self.upstream.post_json(url, headers=self._headers(), body=task_body(request, model))
        task = data.get("id") if isinstance(data, dict) else None
        task = required_text(task, f"The {self.name} provider accepted a video task without an id.")
        return Submitted(upstream_id=task)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        task = job.upstream_id
        url = self.url(f"contents/generations/tasks/{quote(task, safe='')}")
        data = await get_task(self.upstream, url, self._headers())
        if data is None:
            return lost(self.name, task)
        if not isinstance(data, dict):
            raise UpstreamError(f"The {self.name} provider answered task {task} with no object.")
        status = data.get("status")
        if status in STATUS:
            return Progress(STATUS[status])
        if status in ENDED:
            error = object_at(data, "error")
            code, message = error.get("code"), error.get("message") or f"the task {status}"
            return failed(self.name, task, f"{message} ({code})" if code else message)
        if status != "succeeded":
            raise UpstreamError(f"The {self.name} provider answered a task status it does not document: {status!r}.")
        content = object_at(data, "content")
        video = content.get("video_url")
        if not isinstance(video, str) or not video:
            return failed(self.name, task, "the task succeeded with no video_url")
        details = {k: data[k] for k in ("seed", "resolution", "ratio", "framespersecond") if k in data}
        return Progress(
            JobStatus.COMPLETED,
            files=(GeneratedFile(field="video", url=video),),
            duration_s=seconds_of(data.get("duration")),
            details=details,
        )
