"""``DashScopeVideo``: Wan and HappyHorse video on Alibaba Cloud Model Studio's native DashScope
API, behind the ``JobRunner`` protocol (``video_request.py`` builds the bodies).

A task is created with ``X-DashScope-Async: enable`` (``output.task_id``), then
``GET /api/v1/tasks/{task_id}`` answers its ``task_status``: ``PENDING`` and ``SUSPENDED``
(queued), ``RUNNING``, ``SUCCEEDED`` (``output.video_url``, a signed OSS link valid 24 hours:
the gateway downloads and re-hosts it; ``usage.video_duration`` or ``usage.duration`` is the
length made), ``FAILED`` / ``CANCELED`` (``output.code`` and ``message``) or ``UNKNOWN`` (the
task expired or never existed: lost). The same origin and key as the images
(``native_origin``).

DashScope takes no idempotency key or caller's id for a task (its reference says to poll one
task rather than create duplicates), so ``reference`` goes nowhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.dashscope.errors import parse_error
from unigate.providers.dashscope.images import native_origin
from unigate.providers.dashscope.video_request import mapped_options, video_body
from unigate.providers.http import Upstream
from unigate.providers.task_jobs import get_task, lost, required_text
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import UpstreamAdapter
from unigate.providers.video_jobs import check_options, failed, seconds_of

__all__ = ["TASK_PATH", "TIMING", "DashScopeVideo"]

TIMING = JobTiming(first_s=15.0, factor=1.5, max_interval_s=30.0, deadline_s=2 * 3600.0)
"""Model Studio puts a Wan video at one to five minutes (up to ten queued); a task id lives 24 h."""

TASK_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
STATUS = {"PENDING": JobStatus.QUEUED, "SUSPENDED": JobStatus.QUEUED, "RUNNING": JobStatus.GENERATING}


class DashScopeVideo(UpstreamAdapter):
    timing = TIMING
    inline = False

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport or build_transport()))
        self.origin = native_origin(config.base_url or "")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        upstream = model.upstream_model
        if not request.prompt:
            raise InvalidRequest(f"{model.id} needs a prompt.", param="prompt")
        check_options(request.options, mapped_options(upstream), provider=self.name, model=model.id)
        video_body(request, upstream)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        headers = {**self._headers(), "X-DashScope-Async": "enable"}
        body = video_body(request, model.upstream_model)
        data = await self.upstream.post_json(self.origin + TASK_PATH, headers=headers, body=body)
        output = data.get("output") if isinstance(data, dict) else None
        task = output.get("task_id") if isinstance(output, dict) else None
        task = required_text(task, f"The {self.name} provider accepted a {body['model']} task without a task_id.")
        return Submitted(upstream_id=task)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        task = job.upstream_id
        url = f"{self.origin}/api/v1/tasks/{quote(task, safe='')}"
        data = await get_task(self.upstream, url, self._headers())
        if data is None:
            return lost(self.name, task)
        output = data.get("output") if isinstance(data, dict) else None
        if not isinstance(output, dict):
            raise UpstreamError(f"The {self.name} provider answered task {task} with no output.")
        status = output.get("task_status")
        if status in STATUS:
            return Progress(STATUS[status])
        if status == "UNKNOWN":
            return lost(self.name, task)
        if status in ("FAILED", "CANCELED"):
            code, message = output.get("code"), output.get("message") or str(status).lower()
            return failed(self.name, task, f"{message} ({code})" if code else message)
        if status != "SUCCEEDED":
            raise UpstreamError(f"The {self.name} provider answered a task status it does not document: {status!r}.")
        return _succeeded(self.name, task, output, data.get("usage"))


def _succeeded(name: str, task: str, output: dict[str, Any], usage: Any) -> Progress:
    results = output.get("results")
    url = output.get("video_url") or (results.get("video_url") if isinstance(results, dict) else None)
    if not isinstance(url, str) or not url:
        return failed(name, task, "the task succeeded with no video_url")
    usage = usage if isinstance(usage, dict) else {}
    seconds = seconds_of(usage.get("video_duration")) or seconds_of(usage.get("duration"))
    details = {k: output[k] for k in ("actual_prompt", "orig_prompt") if isinstance(output.get(k), str)}
    return Progress(
        JobStatus.COMPLETED, files=(GeneratedFile(field="video", url=url),), duration_s=seconds, details=details
    )
