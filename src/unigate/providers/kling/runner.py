"""``KlingVideo``: Kling's video API (https://app.klingai.com/global/dev/document-api, base
``https://api-singapore.klingai.com``) behind the ``JobRunner`` protocol.

``POST /v1/videos/{endpoint}`` (``bodies.py``) answers ``{code, message, request_id, data:
{task_id, task_status, task_info: {external_task_id}}}``; ``GET /v1/videos/{endpoint}/{task_id}``
answers the same ``data`` with ``task_status`` ``submitted``, ``processing``, ``succeed`` or
``failed`` (its reason in ``task_status_msg``) and, once it succeeded,
``task_result.videos[{id, url, duration}]``: URLs on Kling's CDN, kept thirty days.

Kling's errors carry a service ``code`` besides the HTTP status (its error-code table): 1000-1004
are our credentials, 1100-1103 our account (arrears, no resource pack, no access), 1200-1201
the request, 1300-1301 its content policy, 1302-1304 rate and concurrency limits, 5000-5002 its
servers. A non-zero ``code`` in a 200 is a failure too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.errors import UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure, failure_error
from unigate.providers.kling.auth import KlingKeys
from unigate.providers.kling.bodies import body, route_of
from unigate.providers.task_jobs import answer_object, get_task, lost, required_text
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter
from unigate.providers.wire import error_object

__all__ = ["STATES", "TIMING", "KlingVideo", "parse_error"]

TIMING = JobTiming(first_s=20.0, factor=1.5, max_interval_s=30.0, deadline_s=3 * 3600.0)
"""A five-second clip takes one to six minutes (pro mode and ten seconds the longest); Kling's
queue holds tasks for hours when busy. Its guide polls every five to ten seconds."""

STATES: Mapping[str, JobStatus] = {
    "submitted": JobStatus.QUEUED,
    "processing": JobStatus.GENERATING,
    "succeed": JobStatus.COMPLETED,
    "failed": JobStatus.ERROR,
}


def _status_of(code: int) -> int | None:
    """Kling's service ``code`` as the HTTP status it stands for (its error-code table); ``None``
    for a code it does not list (the answer's own status stands)."""
    if 1000 <= code <= 1004:
        return 401
    if code == 1103:
        return 403
    if 1100 <= code <= 1102:
        return 402  # the operator's account: arrears, no resource pack
    if code == 1203:
        return 404  # the resource (a task, a model) does not exist
    if 1200 <= code <= 1202 or 1300 <= code <= 1301:
        return 400
    if 1302 <= code <= 1304:
        return 429
    return {5000: 500, 5001: 503, 5002: 504}.get(code)


def _failure(data: Mapping[str, Any], default: int | None = 502) -> UpstreamFailure | None:
    """The failure a non-zero ``code`` reports; ``default`` is its status when Kling's table has
    none for it (a 200 answer's: 502; an error answer's: its own, ``None``)."""
    code = data.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        return None
    return UpstreamFailure(f"{data.get('message') or 'error'} (code {code})", status=_status_of(code) or default)


def parse_error(body: bytes) -> UpstreamFailure:
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    return _failure(data, None) or UpstreamFailure(str(data.get("message") or "") or None)


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class KlingVideo(UpstreamAdapter):
    """Kling's video endpoints as a ``JobRunner`` (see the module)."""

    timing = TIMING
    inline = False

    def __init__(
        self, config: ProviderConfig, *, transport: Transport, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))
        self.keys = KlingKeys(config.api_key) if clock is None else KlingKeys(config.api_key, clock=clock)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self.keys.authorization()}

    def _data(self, answer: Any, what: str) -> dict[str, Any]:
        answer = answer_object(answer, self.name, what)
        failure = _failure(answer)
        if failure is not None:
            raise failure_error(self.config, 502, failure)
        return answer_object(answer.get("data"), self.name, what)

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        body(request, route_of(model.upstream_model))

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        route = route_of(model.upstream_model)
        payload = body(request, route, reference=reference)
        answer = await self.upstream.post_json(
            self.url(f"v1/videos/{route.endpoint}"), headers=self._headers(), body=payload
        )
        data = self._data(answer, "a new task")
        task = data.get("task_id")
        task = required_text(task, f"The {self.name} provider accepted a task without a task_id.")
        return Submitted(upstream_id=task, state={"endpoint": route.endpoint})

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        endpoint = str(job.state.get("endpoint") or route_of(model.upstream_model).endpoint)
        url = self.url(f"v1/videos/{endpoint}/{quote(job.upstream_id, safe='')}")
        answer = await get_task(self.upstream, url, self._headers())
        if answer is None:
            return lost(self.name, job.upstream_id)
        data = self._data(answer, f"task {job.upstream_id}")
        status = STATES.get(str(data.get("task_status")))
        if status is None:
            raise UpstreamError(f"The {self.name} provider gave task {job.upstream_id} an unknown status.")
        if status is JobStatus.ERROR:
            reason = data.get("task_status_msg") or "no reason given"
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider's task failed: {reason}")
        if status is not JobStatus.COMPLETED:
            return Progress(status)
        result = data.get("task_result") if isinstance(data.get("task_result"), dict) else {}
        videos = [v for v in (result or {}).get("videos") or () if isinstance(v, dict) and v.get("url")]
        if not videos:
            # It will not gain one by asking again.
            return Progress(JobStatus.ERROR, message=f"The {self.name} provider's task succeeded without a video.")
        first = videos[0]
        return Progress(
            JobStatus.COMPLETED,
            files=(GeneratedFile(field="video", url=str(first["url"]), content_type="video/mp4"),),
            duration_s=_seconds(first.get("duration")),
        )
