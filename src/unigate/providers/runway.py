"""``RunwayVideo``: Runway's API (https://docs.dev.runwayml.com/api, base
``https://api.dev.runwayml.com``, header ``X-Runway-Version: 2024-11-06``) behind the
``JobRunner`` protocol, for Gen-3 Alpha Turbo, Gen-4 Turbo, Gen-4 Aleph and Act-Two.

``POST /v1/image_to_video`` (gen3a_turbo, gen4_turbo), ``/v1/video_to_video`` (gen4_aleph) and
``/v1/character_performance`` (act_two) answer ``{id}``; ``GET /v1/tasks/{id}`` answers
``status`` ``PENDING``, ``THROTTLED``, ``RUNNING``, ``SUCCEEDED`` (``output``: URLs, valid a day
or two) or ``FAILED`` (``failure``, ``failureCode``); ``CANCELLED`` when deleted.

=========================  ==========================================================
the service's field        Runway's
=========================  ==========================================================
``prompt``                 ``promptText``
``image_url``,             ``promptImage``: the URL alone, or ``[{uri, position:
``tail_image_url``         first}, {uri, position: last}]`` (gen3a_turbo only)
``aspect_ratio``           ``ratio`` in pixels, the model's own (``RATIOS``)
``video_url``              ``videoUri``
``references[{type,url}]`` ``references[{type, uri}]``
``character``,             ``character``, ``reference`` as ``{type, uri}``
``reference``
``frame_size``             ``ratio``
``body_control``,          ``bodyControl``, ``expressionIntensity``
``expression_intensity``
``duration``, ``seed``     the same
=========================  ==========================================================

Runway takes ``data:`` URIs for its inputs, so those pass as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.task_jobs import answer_object, get_task, lost, required_text, text_option
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter
from unigate.providers.wire import error_object

__all__ = ["ENDPOINTS", "RATIOS", "STATES", "TIMING", "VERSION", "RunwayVideo", "runway_body"]

VERSION = "2024-11-06"
TIMING = JobTiming(first_s=10.0, factor=1.5, max_interval_s=20.0, deadline_s=3600.0)
"""A clip takes thirty seconds to a few minutes; a THROTTLED task waits for the account's
concurrency. Runway asks for no more than one poll every five seconds."""

STATES: Mapping[str, JobStatus] = {
    "PENDING": JobStatus.QUEUED,
    "THROTTLED": JobStatus.QUEUED,
    "RUNNING": JobStatus.GENERATING,
    "SUCCEEDED": JobStatus.COMPLETED,
    "FAILED": JobStatus.ERROR,
    "CANCELLED": JobStatus.ERROR,
}
ENDPOINTS: Mapping[str, str] = {
    "gen3a_turbo": "image_to_video",
    "gen4_turbo": "image_to_video",
    "gen4_aleph": "video_to_video",
    "act_two": "character_performance",
}
RATIOS: Mapping[str, Mapping[str, str]] = {
    "gen3a_turbo": {"16:9": "1280:768", "9:16": "768:1280"},
    "gen4_turbo": {
        "16:9": "1280:720",
        "9:16": "720:1280",
        "4:3": "1104:832",
        "3:4": "832:1104",
        "1:1": "960:960",
        "21:9": "1584:672",
    },
}
"""The service's aspect ratios as the pixel ratios each image model makes."""
LAST_FRAME = frozenset({"gen3a_turbo"})


def parse_error(body: bytes) -> UpstreamFailure:
    """Runway's ``{"error": "...", "issues": [...]}``."""
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    message = data.get("error") or data.get("message")
    issues = data.get("issues")
    if isinstance(issues, list) and issues and isinstance(issues[0], dict) and issues[0].get("message"):
        message = f"{message or 'invalid request'}: {issues[0]['message']}"
    return UpstreamFailure(str(message) if message else None)


def _uri(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("url"), str):
        raise InvalidRequest(f"{param} must be {{type, url}}.", param=param)
    return {"type": value.get("type"), "uri": value["url"]}


def _image_to_video(request: GenerationRequest, model: str) -> dict[str, Any]:
    options = request.options
    image = text_option(options, "image_url")
    if image is None:
        raise InvalidRequest(f"Runway's {model} animates an image: give image_url.", param="image_url")
    tail = text_option(options, "tail_image_url")
    body: dict[str, Any] = {"model": model}
    if tail and model not in LAST_FRAME:
        raise InvalidRequest(f"Runway's {model} takes no last frame.", param="tail_image_url")
    body["promptImage"] = [{"uri": image, "position": "first"}, {"uri": tail, "position": "last"}] if tail else image
    ratio = options.get("aspect_ratio")
    if ratio is not None:
        pixels = RATIOS[model].get(str(ratio))
        if pixels is None:
            raise InvalidRequest(f"Runway's {model} makes no {ratio} video.", param="aspect_ratio")
        body["ratio"] = pixels
    if options.get("duration") is not None:
        body["duration"] = int(options["duration"])
    return body


def _video_to_video(request: GenerationRequest, model: str) -> dict[str, Any]:
    options = request.options
    video = text_option(options, "video_url")
    if video is None:
        raise InvalidRequest("Runway's gen4_aleph edits a video: give video_url.", param="video_url")
    body: dict[str, Any] = {"model": model, "videoUri": video}
    references = options.get("references") or []
    if references:
        body["references"] = [_uri(r, "references") for r in references]
    return body


def _character_performance(request: GenerationRequest, model: str) -> dict[str, Any]:
    options = request.options
    body: dict[str, Any] = {
        "model": model,
        "character": _uri(options.get("character"), "character"),
        "reference": _uri(options.get("reference"), "reference"),
    }
    if options.get("body_control") is not None:
        body["bodyControl"] = bool(options["body_control"])
    if options.get("expression_intensity") is not None:
        body["expressionIntensity"] = int(options["expression_intensity"])
    return body


def runway_body(request: GenerationRequest, model: str) -> tuple[str, dict[str, Any]]:
    """The endpoint and JSON body of a task of ``model`` (Runway's id)."""
    endpoint = ENDPOINTS.get(model)
    if endpoint is None:
        raise InvalidRequest(f"Runway has no task for model {model!r}.", param="model")
    if endpoint == "image_to_video":
        body = _image_to_video(request, model)
    elif endpoint == "video_to_video":
        body = _video_to_video(request, model)
    else:
        body = _character_performance(request, model)
    options = request.options
    if request.prompt:
        body["promptText"] = request.prompt
    if options.get("frame_size") is not None:
        body["ratio"] = str(options["frame_size"])
    if options.get("seed") is not None:
        body["seed"] = int(options["seed"])
    return endpoint, body


class RunwayVideo(UpstreamAdapter):
    """Runway's tasks as a ``JobRunner`` (see the module)."""

    timing = TIMING
    inline = False

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}", "X-Runway-Version": VERSION}

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        runway_body(request, model.upstream_model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        endpoint, body = runway_body(request, model.upstream_model)
        answer = await self.upstream.post_json(self.url(f"v1/{endpoint}"), headers=self._headers(), body=body)
        task = answer_object(answer, self.name, "a new task").get("id")
        task = required_text(task, f"The {self.name} provider accepted a task without an id.")
        return Submitted(upstream_id=task)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        url = self.url(f"v1/tasks/{quote(job.upstream_id, safe='')}")
        answer = await get_task(self.upstream, url, self._headers())
        if answer is None:
            return lost(self.name, job.upstream_id)
        data = answer_object(answer, self.name, f"task {job.upstream_id}")
        raw = str(data.get("status"))
        status = STATES.get(raw)
        if status is None:
            raise UpstreamError(f"The {self.name} provider gave task {job.upstream_id} an unknown status.")
        if status is JobStatus.ERROR:
            reason = data.get("failure") or ("the task was cancelled" if raw == "CANCELLED" else "no reason given")
            code = f" ({data['failureCode']})" if data.get("failureCode") else ""
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider's task failed: {reason}{code}")
        if status is not JobStatus.COMPLETED:
            return Progress(status)
        output = [u for u in data.get("output") or () if isinstance(u, str) and u]
        if not output:
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider's task succeeded without a video.")
        return Progress(
            JobStatus.COMPLETED, files=(GeneratedFile(field="video", url=output[0], content_type="video/mp4"),)
        )
