"""``OpenAIVideo``: Sora 2 and Sora 2 Pro through OpenAI's Videos API, behind the ``JobRunner``
protocol (https://platform.openai.com/docs/api-reference/videos).

* ``POST /videos`` with the JSON body (``CreateVideoJsonBody``): ``model``, ``prompt``,
  ``seconds`` (a string: ``"4"``, ``"8"``, ``"12"``), ``size`` (``WxH``) and, for image-to-video,
  ``input_reference: {image_url}`` (a public URL or a ``data:`` URI, both of which OpenAI takes).
  The service's ``aspect_ratio`` and ``resolution`` make the size: 720p is 1280x720 or 720x1280;
  1080p (Sora 2 Pro only) is 1920x1080 or 1080x1920, as OpenAI's guide names it. The size is
  always sent, because OpenAI's default (720x1280, portrait) is not the service's (16:9).
* ``GET /videos/{id}``: ``status`` ``queued`` / ``in_progress`` / ``completed`` / ``failed``
  (``error: {code, message}``); ``seconds`` is what was made.
* ``GET /videos/{id}/content``: the MP4, only with our key, so it is read here
  (``video_jobs.keyed_file``).

OpenAI's Videos API takes no idempotency key (its SDK sends none), so ``reference`` goes nowhere:
a submission retried after a lost answer could start a second video.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.openai_media.adapter import MediaAdapter
from unigate.providers.task_jobs import get_task, lost, required_text
from unigate.providers.video_jobs import (
    check_options,
    failed,
    keyed_file,
    object_at,
    option_url,
    seconds_of,
)

__all__ = ["SIZES", "TIMING", "OpenAIVideo", "video_body"]

TIMING = JobTiming(first_s=20.0, factor=1.5, max_interval_s=30.0, deadline_s=2 * 3600.0)
"""A Sora 2 clip takes a minute or two, a Sora 2 Pro one several; two hours is past any queue."""

SIZES = {
    ("720p", "16:9"): "1280x720",
    ("720p", "9:16"): "720x1280",
    ("1080p", "16:9"): "1920x1080",
    ("1080p", "9:16"): "1080x1920",
}
MAPPED = ("image_url", "duration", "aspect_ratio", "resolution")
STATUS = {"queued": JobStatus.QUEUED, "in_progress": JobStatus.GENERATING}


def _resolution(request: GenerationRequest) -> str:
    asked = request.options.get("resolution") or request.variant.partition(":")[0] or "720p"
    return str(asked).lower()


def video_body(request: GenerationRequest, model: ModelSpec) -> dict[str, Any]:
    """The JSON body that creates the video (see the module docstring)."""
    ratio = str(request.options.get("aspect_ratio") or "16:9")
    size = SIZES.get((_resolution(request), ratio))
    if size is None:
        raise InvalidRequest(f"{model.id} makes no {_resolution(request)} video at {ratio}.", param="resolution")
    if size.startswith(("1920", "1080x")) and not model.upstream_model.startswith("sora-2-pro"):
        raise InvalidRequest(f"{model.id} makes 720p videos only; 1080p is Sora 2 Pro's.", param="resolution")
    seconds = request.options.get("duration", request.duration_s or 4)
    body: dict[str, Any] = {
        "model": model.upstream_model,
        "prompt": request.prompt or "",
        "seconds": str(int(seconds)),
        "size": size,
    }
    image = option_url(request.options, "image_url")
    if image is not None:
        body["input_reference"] = {"image_url": image}
    return body


class OpenAIVideo(MediaAdapter):
    """Sora over the ``Upstream`` of the deployment's chat adapter (``registry.py``)."""

    timing = TIMING
    inline = False

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        if not request.prompt:
            raise InvalidRequest(f"{model.id} needs a prompt.", param="prompt")
        check_options(request.options, MAPPED, provider=self.name, model=model.id)
        if model.id.endswith("-i2v") and option_url(request.options, "image_url") is None:
            raise InvalidRequest(f"{model.id} needs an image_url.", param="image_url")
        video_body(request, model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        body = video_body(request, model)
        data = await self.upstream.post_json(self.url("videos"), headers=self.headers(), body=body)
        video = data.get("id") if isinstance(data, dict) else None
        video = required_text(video, f"The {self.name} provider accepted a video without an id.")
        return Submitted(upstream_id=video)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        video = job.upstream_id
        data = await get_task(self.upstream, self.url(f"videos/{quote(video, safe='')}"), self.headers())
        if data is None:
            return lost(self.name, video)
        if not isinstance(data, dict):
            raise UpstreamError(f"The {self.name} provider answered a video's status with no object.")
        status = data.get("status")
        if status in STATUS:
            return Progress(STATUS[status], details=_progress(data))
        if status == "failed":
            error = object_at(data, "error")
            code, message = error.get("code"), error.get("message")
            return failed(self.name, video, f"{message} ({code})" if code and message else message or code)
        if status != "completed":
            raise UpstreamError(f"The {self.name} provider answered a video status it does not document: {status!r}.")
        url = self.url(f"videos/{quote(video, safe='')}/content")
        file = await keyed_file(self.upstream, url, self.headers(), field="video")
        return Progress(JobStatus.COMPLETED, files=(file,), duration_s=seconds_of(data.get("seconds")))


def _progress(data: dict[str, Any]) -> dict[str, Any]:
    progress = data.get("progress")
    return {"progress": progress} if isinstance(progress, int | float) else {}
