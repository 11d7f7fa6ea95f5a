"""3D models (``triposr``, ``tencent/hunyuan-part``) answer within their request, as the service
documents them, on ``POST /v2/generate/3d`` and on ``POST /v1/images/generations`` (where its
docs put them): the job runs like any other (recorded, polled by whichever replica, settled once)
and the request waits for it, answering ``{model_mesh: {url, content_type, file_name,
file_size}, meta}`` or the job's error."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from unigate.accounts.store import ApiKey
from unigate.api.auth import require_key
from unigate.api.context import JOBS, STORE
from unigate.api.jobs.render import answer
from unigate.api.jobs.request import generation_request
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json
from unigate.core.job_flow import MODALITY
from unigate.core.jobs import Job, JobKind
from unigate.errors import InvalidRequest, UpstreamError

__all__ = ["generate_3d", "generate_3d_from", "run_to_end"]


async def generate_3d(request: web.Request) -> web.Response:
    body = await read_json(request)
    return await generate_3d_from(request, body)


async def generate_3d_from(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Run a 3D job for ``body`` (already read, by this or the images endpoint) and wait for it."""
    key = await require_key(request, request.app[STORE])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    job = await run_to_end(request, key, model, body, JobKind.THREE_D)
    return web.Response(body=orjson.dumps(answer(request, job)), content_type="application/json")


async def run_to_end(request: web.Request, key: ApiKey, model: str, body: dict[str, Any], kind: JobKind) -> Job:
    """A job for ``body``, created and waited for until it completed; its error as a 502."""
    jobs = request.app[JOBS]
    spec = jobs.media.model(model, MODALITY[kind])
    canonical, callback = generation_request(body, spec, kind)
    job = await jobs.create(canonical, key, callback_url=callback, admission=admission_for(request))
    job = await jobs.wait(job, key)
    if job.error:
        raise UpstreamError(f"The generation failed: {job.error.get('message') or 'no details given'}")
    return job
