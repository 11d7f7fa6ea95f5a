"""``LumaVideo``: Luma's Dream Machine API (https://docs.lumalabs.ai, base
``https://api.lumalabs.ai/dream-machine/v1``) behind the ``JobRunner`` protocol, for Ray 2 and
Ray Flash 2.

``POST /generations/video`` with ``{prompt, model, resolution, duration, aspect_ratio, loop,
keyframes}`` answers the generation, ``{id, state: queued, ...}``; ``GET /generations/{id}``
answers its ``state`` ``queued``, ``dreaming``, ``completed`` (``assets.video``: a URL on Luma's
CDN) or ``failed`` (``failure_reason``). Errors are ``{"detail": ...}``.

The service's fields are Luma's, but for ``duration``, an integer there and ``"5s"`` here.
``keyframes`` (``{frame0, frame1}``, each ``{type: image, url}`` or ``{type: generation, id}``)
pass as they are; Luma fetches the images itself, so they must be URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.fastapi_errors import parse_detail_error
from unigate.providers.http import Upstream
from unigate.providers.task_jobs import answer_object, get_task, is_data_uri, lost, required_text
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["STATES", "TIMING", "LumaVideo", "luma_body"]

TIMING = JobTiming(first_s=20.0, factor=1.5, max_interval_s=20.0, deadline_s=3600.0)
"""A Ray 2 clip takes one to three minutes, 1080p and 4k longer; Luma's guide polls every few seconds."""

STATES: Mapping[str, JobStatus] = {
    "queued": JobStatus.QUEUED,
    "dreaming": JobStatus.GENERATING,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.ERROR,
}
PASSED = ("resolution", "aspect_ratio", "loop")


def _keyframes(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequest("keyframes must be {frame0, frame1}.", param="keyframes")
    frames: dict[str, Any] = {}
    for name, frame in value.items():
        if frame is None:
            continue
        if isinstance(frame, Mapping) and is_data_uri(frame.get("url")):
            raise InvalidRequest("Luma fetches keyframe images itself: give public URLs.", param=f"keyframes.{name}")
        frames[str(name)] = dict(frame) if isinstance(frame, Mapping) else frame
    return frames


def luma_body(request: GenerationRequest, model: str) -> dict[str, Any]:
    """The JSON body of ``POST /generations/video``."""
    options = request.options
    body: dict[str, Any] = {"prompt": request.prompt or "", "model": model}
    body.update({k: options[k] for k in PASSED if options.get(k) is not None})
    if options.get("duration") is not None:
        body["duration"] = f"{int(options['duration'])}s"
    if options.get("keyframes") is not None:
        frames = _keyframes(options["keyframes"])
        if frames:
            body["keyframes"] = frames
    return body


class LumaVideo(UpstreamAdapter):
    """Luma's generations as a ``JobRunner`` (see the module)."""

    timing = TIMING
    inline = False

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_detail_error, transport=transport))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        luma_body(request, model.upstream_model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        body = luma_body(request, model.upstream_model)
        answer = await self.upstream.post_json(self.url("generations/video"), headers=self._headers(), body=body)
        generation = answer_object(answer, self.name, "a new generation").get("id")
        generation = required_text(generation, f"The {self.name} provider accepted a generation without an id.")
        return Submitted(upstream_id=generation)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        url = self.url(f"generations/{quote(job.upstream_id, safe='')}")
        answer = await get_task(self.upstream, url, self._headers())
        if answer is None:
            return lost(self.name, job.upstream_id)
        data = answer_object(answer, self.name, f"generation {job.upstream_id}")
        status = STATES.get(str(data.get("state")))
        if status is None:
            raise UpstreamError(f"The {self.name} provider gave generation {job.upstream_id} an unknown state.")
        if status is JobStatus.ERROR:
            reason = data.get("failure_reason") or "no reason given"
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider's generation failed: {reason}")
        if status is not JobStatus.COMPLETED:
            return Progress(status)
        assets = data.get("assets") if isinstance(data.get("assets"), dict) else {}
        video = (assets or {}).get("video")
        if not isinstance(video, str) or not video:
            return Progress(
                JobStatus.ERROR, message=f"The {self.name} provider's generation completed without a video."
            )
        return Progress(JobStatus.COMPLETED, files=(GeneratedFile(field="video", url=video, content_type="video/mp4"),))
