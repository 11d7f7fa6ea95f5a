"""A job as the service answers it: ``{id, status}`` at creation (with the reservation in
``meta.usage``), and at each poll ``{id, status, <file field>: {url, content_type, file_size},
error: {name, message}, meta}`` (``meta.usage`` once the job has ended: what it was charged).
The file fields are the model's: ``video``, ``audio_file``, ``model_mesh`` (``file_name`` too);
their ``url`` is the gateway's signed link to the stored file."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from unigate.api.context import MEDIA
from unigate.api.media.links import base_url
from unigate.api.meta import meta
from unigate.core.files import MediaStore, StoredFile
from unigate.core.gateway import Charge
from unigate.core.jobs import Job, JobStatus

__all__ = ["created_body", "file_of", "job_body", "job_files"]


def created_body(job: Job) -> dict[str, Any]:
    """The create answer: the job's id and status, and what was reserved for it."""
    body: dict[str, Any] = {"id": job.id, "status": job.status.value, "meta": meta(Charge(job.reserved))}
    if job.status is JobStatus.ERROR and job.error:
        body["error"] = dict(job.error)
    return body


def job_files(job: Job) -> dict[str, dict[str, Any]]:
    """The stored files of a completed job, by their answer field."""
    files = (job.result or {}).get("files") if job.status is JobStatus.COMPLETED else None
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def file_of(job: Job, saved: dict[str, Any]) -> StoredFile:
    return StoredFile(
        id=saved["file_id"],
        owner=str(job.account_id),
        content_type=saved.get("content_type") or "application/octet-stream",
        size=int(saved.get("size") or 0),
        created=float(saved.get("created") or 0.0),
        expires=float(saved.get("expires") or 0.0),
        filename=saved.get("filename") or "",
    )


def job_body(job: Job, files: MediaStore, base: str) -> dict[str, Any]:
    """A poll's answer (and a webhook's body), links under ``base``."""
    body: dict[str, Any] = {"id": job.id, "status": job.status.value, "model": job.model}
    for field, saved in job_files(job).items():
        stored = file_of(job, saved)
        entry: dict[str, Any] = {
            "url": files.signed_url(stored, base),
            "content_type": stored.content_type,
            "file_size": stored.size,
        }
        if stored.filename:
            entry["file_name"] = stored.filename
        body[field] = entry
    details = (job.result or {}).get("details")
    if isinstance(details, dict):
        body.update({k: v for k, v in details.items() if k not in body})
    if job.status is JobStatus.ERROR and job.error:
        body["error"] = dict(job.error)
    if job.status.ended:
        body["meta"] = meta(Charge(job.charged or 0))
    return body


def answer(request: web.Request, job: Job) -> dict[str, Any]:
    return job_body(job, request.app[MEDIA].files, base_url(request))
