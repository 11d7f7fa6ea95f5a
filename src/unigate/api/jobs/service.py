"""The service's own job endpoints: ``POST /v2/video/generations`` and ``GET
/v2/video/generations?generation_id=``, the legacy vendor paths (``/v2/generate/video/{vendor}/
generation``, POST to create and GET to poll, answering the same), and music's ``POST`` / ``GET
/v2/generate/audio``."""

from __future__ import annotations

import orjson
from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import JOBS, STORE
from unigate.api.jobs.render import answer, created_body
from unigate.api.jobs.request import generation_request
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json
from unigate.core.job_flow import MODALITY
from unigate.core.jobs import JobKind
from unigate.errors import InvalidRequest

__all__ = ["create_music", "create_video", "get_music", "get_video"]


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def _create(request: web.Request, kind: JobKind) -> web.Response:
    key = await require_key(request, request.app[STORE])
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    jobs = request.app[JOBS]
    spec = jobs.media.model(model, MODALITY[kind])
    canonical, callback = generation_request(body, spec, kind)
    job = await jobs.create(canonical, key, callback_url=callback, admission=admission_for(request))
    return _json(created_body(job))


async def _get(request: web.Request, kind: JobKind) -> web.Response:
    key = await require_key(request, request.app[STORE])
    job_id = request.query.get("generation_id") or request.query.get("id") or ""
    if not job_id:
        raise InvalidRequest("Missing required query parameter: 'generation_id'.", param="generation_id")
    job = await request.app[JOBS].get(job_id, key, kind)
    return _json(answer(request, job))


async def create_video(request: web.Request) -> web.Response:
    return await _create(request, JobKind.VIDEO)


async def get_video(request: web.Request) -> web.Response:
    return await _get(request, JobKind.VIDEO)


async def create_music(request: web.Request) -> web.Response:
    return await _create(request, JobKind.MUSIC)


async def get_music(request: web.Request) -> web.Response:
    return await _get(request, JobKind.MUSIC)
