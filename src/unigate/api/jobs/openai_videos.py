"""OpenAI's video API over the same jobs, so that the ``openai`` SDK's ``videos`` resource works
unchanged: ``POST /v1/videos`` (JSON, or multipart with an ``input_reference`` image), ``GET
/v1/videos/{id}``, ``GET /v1/videos/{id}/content``, ``GET /v1/videos`` and ``DELETE
/v1/videos/{id}``.

OpenAI's fields are read as the service's: ``seconds`` as ``duration``, ``size`` (``1280x720``)
as ``resolution`` and ``aspect_ratio``, ``input_reference`` as ``image_url`` (a ``data:`` URI);
``sora-2`` and ``sora-2-pro`` name the catalog's text- or image-to-video model by whether an
image is given. Any other video model of the catalog may be named too. Statuses map as OpenAI
names them (``generating`` is ``in_progress``, ``error`` is ``failed``), and a poll answers
``openai-poll-after-ms`` with the job's next poll time, which the SDK's ``poll`` honours.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson
from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import JOBS, MEDIA, SETTINGS, STORE
from unigate.api.jobs.render import file_of, job_files
from unigate.api.jobs.request import generation_request
from unigate.api.media.files import serve_file
from unigate.api.media.uploads import read_form
from unigate.api.ratelimit_headers import admission_for
from unigate.catalog.fields import request_schema
from unigate.core.jobs import Job, JobKind, JobStatus
from unigate.core.services import Modality
from unigate.errors import InvalidRequest, NotFound

__all__ = ["add_openai_video_routes"]

_SIZES = {
    "1280x720": ("720p", "16:9"),
    "720x1280": ("720p", "9:16"),
    "1792x1024": ("1080p", "16:9"),
    "1024x1792": ("1080p", "9:16"),
    "1920x1080": ("1080p", "16:9"),
    "1080x1920": ("1080p", "9:16"),
}
_STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.GENERATING: "in_progress",
    JobStatus.COMPLETED: "completed",
    JobStatus.ERROR: "failed",
}
_PROGRESS = {JobStatus.QUEUED: 0, JobStatus.GENERATING: 50, JobStatus.COMPLETED: 100, JobStatus.ERROR: 0}


def _service_fields(fields: dict[str, Any], image: str | None) -> dict[str, Any]:
    """OpenAI's create body as the service's fields."""
    out = dict(fields)
    model = out.get("model") or "sora-2"
    if model in ("sora-2", "sora-2-pro"):
        model = f"{model}-{'i2v' if image else 't2v'}"
    out["model"] = model
    if "seconds" in out:
        out["duration"] = out.pop("seconds")
    size = out.pop("size", None)
    if size is not None:
        if not isinstance(size, str) or size not in _SIZES:
            raise InvalidRequest(f"'size' must be one of {', '.join(_SIZES)}.", param="size")
        out["resolution"], out["aspect_ratio"] = _SIZES[size]
    if image:
        out["image_url"] = image
    return out


async def create_video(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    form = await read_form(request, max_bytes=request.app[SETTINGS].media.max_upload_bytes)
    fields = dict(form.fields)
    image = fields.pop("input_reference", None)
    uploaded = form.files.get("input_reference")
    if uploaded:
        blob = uploaded[0]
        image = f"data:{blob.content_type};base64,{base64.b64encode(blob.data).decode()}"
    elif image is not None and not isinstance(image, str):
        raise InvalidRequest("'input_reference' must be an image file or URL.", param="input_reference")
    body = _service_fields(fields, image)
    jobs = request.app[JOBS]
    spec = jobs.media.model(str(body["model"]), Modality.VIDEO)
    canonical, callback = generation_request(_typed_duration(body, spec.id), spec, JobKind.VIDEO)
    job = await jobs.create(canonical, key, callback_url=callback, admission=admission_for(request))
    return _json(_video(job, str(fields.get("model") or "sora-2")))


def _typed_duration(body: dict[str, Any], model: str) -> dict[str, Any]:
    """``seconds`` is a string in OpenAI's API; the service's schemas type ``duration`` as a
    string for some models and an integer for others: the schema's own type is used."""
    schema = request_schema(model)
    value = body.get("duration")
    if schema is None or value is None:
        return body
    allowed = schema.enum("duration") or ((schema.default("duration"),) if schema.default("duration") else ())
    if any(isinstance(v, int) for v in allowed) and isinstance(value, str) and value.isascii() and value.isdigit():
        return {**body, "duration": int(value)}
    if any(isinstance(v, str) for v in allowed) and isinstance(value, int):
        return {**body, "duration": str(value)}
    return body


def _video(job: Job, model: str | None = None) -> dict[str, Any]:
    request = job.generation
    options = request.options
    shape = (options.get("resolution"), options.get("aspect_ratio"))
    size = next((name for name, pair in _SIZES.items() if pair == shape), "720x1280")
    body: dict[str, Any] = {
        "id": job.id,
        "object": "video",
        "model": model or job.model,
        "status": _STATUS[job.status],
        "progress": _PROGRESS[job.status],
        "created_at": int(job.created),
        "completed_at": int(job.ended) if job.ended and job.status is JobStatus.COMPLETED else None,
        "expires_at": int(job.expires) if job.expires else None,
        "prompt": request.prompt,
        "seconds": str(int(request.duration_s)) if request.duration_s else "4",
        "size": size,
        "remixed_from_video_id": None,
        "error": None,
    }
    if job.status is JobStatus.ERROR and job.error:
        body["error"] = {"code": job.error.get("name", "error"), "message": job.error.get("message", "")}
    return body


def _json(body: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json", headers=headers)


async def retrieve_video(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    jobs = request.app[JOBS]
    job = await jobs.get(request.match_info["id"], key, JobKind.VIDEO)
    headers = {}
    if not job.status.ended:
        wait_ms = max(250, math.ceil((job.next_at - jobs.clock()) * 1000))
        headers["openai-poll-after-ms"] = str(min(wait_ms, 30_000))
    return _json(_video(job), headers)


async def video_content(request: web.Request) -> web.StreamResponse:
    key = await require_key(request, request.app[STORE])
    job = await request.app[JOBS].get(request.match_info["id"], key, JobKind.VIDEO)
    variant = request.query.get("variant", "video")
    saved = job_files(job).get("video" if variant == "video" else variant)
    if saved is None:
        if variant != "video":
            raise NotFound(f"This video has no {variant!r} variant.", param="variant", code="variant_not_found")
        raise InvalidRequest(
            f"The video {job.id} is {_STATUS[job.status]}: its content is not ready.", code="video_not_ready"
        )
    files = request.app[MEDIA].files
    file = await files.stat(file_of(job, saved).id)
    if file is None:
        raise NotFound("The video's file has expired.", code="file_not_found")
    return await serve_file(request, files, file)


async def list_videos(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    try:
        limit = min(max(int(request.query.get("limit", "20")), 1), 100)
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    jobs = await request.app[JOBS].jobs.list_jobs(key.account_id, limit=limit, kind=JobKind.VIDEO)
    data = [_video(job) for job in jobs]
    body = {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(data) == limit,
    }
    return _json(body)


async def delete_video(request: web.Request) -> web.Response:
    """Removes the video's file; the job's row stays (its charge is in the ledger) until its
    retention ends. A job still running cannot be deleted (it would still be charged)."""
    key = await require_key(request, request.app[STORE])
    job = await request.app[JOBS].get(request.match_info["id"], key, JobKind.VIDEO)
    if not job.status.ended:
        raise InvalidRequest("The video is still being generated; delete it once it has ended.", code="video_not_ready")
    files = request.app[MEDIA].files
    for saved in job_files(job).values():
        await files.delete(str(saved["file_id"]))
    return _json({"id": job.id, "object": "video.deleted", "deleted": True})


def add_openai_video_routes(router: web.UrlDispatcher) -> None:
    for prefix in ("/v1", ""):
        router.add_post(f"{prefix}/videos", create_video)
        router.add_get(f"{prefix}/videos", list_videos)
        router.add_get(f"{prefix}/videos/{{id}}", retrieve_video)
        router.add_delete(f"{prefix}/videos/{{id}}", delete_video)
        router.add_get(f"{prefix}/videos/{{id}}/content", video_content)
