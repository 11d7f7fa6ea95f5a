"""``FalJobs``: fal's queue API (``queue.py``) behind the ``JobRunner`` protocol, for the
catalog's video, music and 3D models that fal hosts and no first party serves
(``catalog/data/routes/jobs_c.toml``); ``generation.py`` maps a request to an app's input and its
answer back.

``submit`` queues the input and keeps fal's request id, app and status/response URLs in the job's
state; each ``poll`` asks the status once (``IN_QUEUE`` queued, ``IN_PROGRESS`` generating) and,
once ``COMPLETED``, reads the answer. fal reports a failed request as ``COMPLETED`` with an
``error``, or answers its error at the response URL: a 4xx there is the request's end (the
error, for the client), a 5xx or a broken exchange is asked again later. A status URL that
answers 404 means fal no longer knows the request: the job ends in error (refunded). fal takes
no caller's id for a request, so the gateway's reference is not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import GatewayError, InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.fal.generation import job_app, job_input, job_progress
from unigate.providers.fal.queue import FalQueue, Queued
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["TIMING", "FalJobs"]

TIMING = JobTiming(first_s=5.0, factor=1.5, max_interval_s=20.0, deadline_s=3600.0)
"""A 3D mesh takes seconds, a video one to several minutes; fal keeps a request for hours."""

_STATES = {"IN_QUEUE": JobStatus.QUEUED, "IN_PROGRESS": JobStatus.GENERATING}


def _lost(exc: GatewayError) -> bool:
    return exc.code == "upstream_not_found"


def _queued(job: Submitted) -> Queued:
    state: Mapping[str, Any] = job.state
    app = state.get("app")
    if not isinstance(app, str) or not app:
        raise UpstreamError(f"The fal request {job.upstream_id} was recorded without its app.")
    return Queued(job.upstream_id, app, str(state.get("status_url") or ""), str(state.get("response_url") or ""))


class FalJobs(UpstreamAdapter):
    """Video, music and 3D jobs on fal (see the module)."""

    timing = TIMING
    inline = False

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None) -> None:
        self.queue = FalQueue(config, transport=transport)
        super().__init__(self.queue.upstream)

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        job_input(request, job_app(request, model.upstream_model))  # a malformed duration fails before any credit

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        app = job_app(request, model.upstream_model)
        queued = await self.queue.submit(app, job_input(request, app))
        state = {"app": app, "status_url": queued.status_url, "response_url": queued.response_url}
        return Submitted(queued.request_id, state)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        queued = _queued(job)
        try:
            data = await self.queue.status(queued)
        except UpstreamError as exc:
            if _lost(exc):
                return Progress(JobStatus.ERROR, message=f"The fal provider no longer knows request {job.upstream_id}.")
            raise
        status = data.get("status")
        if status in _STATES:
            return Progress(_STATES[status])
        if status != "COMPLETED":
            raise UpstreamError(f"The fal provider reported request {job.upstream_id} as {status!r}.")
        if data.get("error"):
            return Progress(JobStatus.ERROR, message=f"The fal provider's request failed: {data['error']}")
        try:
            answer = await self.queue.result(queued)
        except InvalidRequest as exc:
            return Progress(JobStatus.ERROR, message=exc.message)
        except UpstreamError as exc:
            if _lost(exc):
                return Progress(JobStatus.ERROR, message=f"The fal provider no longer has request {job.upstream_id}.")
            raise
        return job_progress(answer, queued.app)
