"""``MiniMaxVideo``: MiniMax's Hailuo video models (https://platform.minimax.io/docs/api-reference/
video-generation) behind the ``JobRunner`` protocol, on the key and base URL of the ``minimax``
chat provider (``https://api.minimax.io/v1``).

``POST /video_generation`` with ``{model, prompt, prompt_optimizer, first_frame_image,
last_frame_image, duration, resolution}`` answers ``{task_id, base_resp}``; ``GET
/query/video_generation?task_id=`` answers ``status`` ``Preparing``, ``Queueing``,
``Processing``, ``Success`` (with a ``file_id``) or ``Fail``; the file's ``download_url`` (valid
nine hours) comes from ``GET /files/retrieve?file_id=``. A ``base_resp`` whose ``status_code`` is
not 0 is a failure even in an HTTP 200 (``minimax_speech.STATUS_OF_CODE``).

The service's fields: ``image_url`` is ``first_frame_image`` (a URL or a ``data:`` URI, both
taken), ``last_image_url`` ``last_frame_image``, ``enhance_prompt`` ``prompt_optimizer``;
``duration`` and ``resolution`` keep their names. ``video-01`` is ``T2V-01`` from text and
``I2V-01`` from an image, as MiniMax names the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, failure_error
from unigate.providers.minimax_speech import base_failure, parse_error
from unigate.providers.task_jobs import answer_object, get_task, lost, required_text, text_option
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["STATES", "TIMING", "MiniMaxVideo", "video_body"]

TIMING = JobTiming(first_s=30.0, factor=1.5, max_interval_s=30.0, deadline_s=2 * 3600.0)
"""A Hailuo clip takes two to five minutes; MiniMax's guide polls every ten seconds."""

STATES: Mapping[str, JobStatus] = {
    "Preparing": JobStatus.QUEUED,
    "Queueing": JobStatus.QUEUED,
    "Processing": JobStatus.GENERATING,
    "Success": JobStatus.COMPLETED,
    "Fail": JobStatus.ERROR,
}
FROM_IMAGE = {"T2V-01": "I2V-01"}
"""Models MiniMax names apart by their input: the text model's image twin."""
NEEDS_IMAGE = frozenset({"I2V-01-live", "I2V-01", "MiniMax-Hailuo-2.3-Fast"})


def video_body(request: GenerationRequest, upstream: str) -> dict[str, Any]:
    """The JSON body of ``POST /video_generation``."""
    options = request.options
    image = text_option(options, "image_url")
    model = FROM_IMAGE.get(upstream, upstream) if image else upstream
    if model in NEEDS_IMAGE and not image:
        raise InvalidRequest(f"MiniMax's {model} animates an image: give image_url.", param="image_url")
    body: dict[str, Any] = {"model": model, "prompt": request.prompt or ""}
    if options.get("enhance_prompt") is not None:
        body["prompt_optimizer"] = bool(options["enhance_prompt"])
    if image:
        body["first_frame_image"] = image
    last = text_option(options, "last_image_url")
    if last:
        if not image:
            raise InvalidRequest("A last frame needs a first one (image_url).", param="last_image_url")
        body["last_frame_image"] = last
    if options.get("duration") is not None:
        body["duration"] = int(options["duration"])
    if options.get("resolution") is not None:
        body["resolution"] = str(options["resolution"])
    return body


class MiniMaxVideo(UpstreamAdapter):
    """MiniMax video generation as a ``JobRunner`` (see the module)."""

    timing = TIMING
    inline = False

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def _checked(self, answer: Any, what: str) -> dict[str, Any]:
        data = answer_object(answer, self.name, what)
        failure = base_failure(data.get("base_resp"))
        if failure is not None:
            raise failure_error(self.config, 502, failure)
        return data

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        video_body(request, model.upstream_model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        body = video_body(request, model.upstream_model)
        answer = await self.upstream.post_json(self.url("video_generation"), headers=self._headers(), body=body)
        task = self._checked(answer, "a new task").get("task_id")
        task = required_text(task, f"The {self.name} provider accepted a video task without a task_id.")
        return Submitted(upstream_id=task)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        task = job.upstream_id
        url = self.url(f"query/video_generation?task_id={quote(task, safe='')}")
        answer = await get_task(self.upstream, url, self._headers())
        if answer is None:
            return lost(self.name, task)
        data = answer_object(answer, self.name, f"task {task}")
        status = STATES.get(str(data.get("status")))
        if status is JobStatus.ERROR:
            # A failed task's base_resp says why it failed, not that the query did.
            base = data.get("base_resp") if isinstance(data.get("base_resp"), dict) else {}
            reason = (base or {}).get("status_msg") or "no reason given"
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider's video task failed: {reason}")
        self._checked(data, f"task {task}")
        if status is None:
            raise UpstreamError(f"The {self.name} provider gave video task {task} an unknown status.")
        if status is not JobStatus.COMPLETED:
            return Progress(status)
        file_id = data.get("file_id")
        if not isinstance(file_id, (str, int)) or isinstance(file_id, bool) or file_id == "":
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider's video task succeeded without a file.")
        return await self._file(str(file_id), data)

    async def _file(self, file_id: str, data: Mapping[str, Any]) -> Progress:
        url = self.url(f"files/retrieve?file_id={quote(file_id, safe='')}")
        retrieved = await get_task(self.upstream, url, self._headers())
        if retrieved is None:
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider no longer has video file {file_id}.")
        info = self._checked(retrieved, f"file {file_id}").get("file")
        link = info.get("download_url") if isinstance(info, dict) else None
        link = required_text(link, f"The {self.name} provider described file {file_id} without a download_url.")
        details = {k: data[k] for k in ("video_width", "video_height") if isinstance(data.get(k), int)}
        name = str(info.get("filename") or "") if isinstance(info, dict) else ""
        return Progress(
            JobStatus.COMPLETED,
            files=(GeneratedFile(field="video", url=link, content_type="video/mp4", filename=name),),
            details=details,
        )
