"""The Jobs page: an account's generation jobs (video, music, 3D), newest first.

What a session sees: with an API key, the jobs of its key's account (jobs belong to accounts, as
the API's job list answers them); with the management key, those of the account of a key chosen
in the page. Each row: the model, the kind, the status, when it was created, the credits charged
(reserved, while it runs), the error's message, and a link to each result file. The links are
signed (``storage/files/signing.py``): the browser sends no key to ``/v1/media/{id}``, and a
signed link serves the file until it expires, which a plain one would answer with a 404. A file
past its retention shows as removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from unigate.accounts.console_views import Session
from unigate.api.context import MEDIA, STORE
from unigate.console.render import page, signed_in
from unigate.core.files import MediaStore
from unigate.core.jobs import Job, JobKind, JobStatus
from unigate.storage.factory import job_store

__all__ = ["KINDS", "PAGE_JOBS", "JobRow", "ResultFile", "jobs_page"]

PAGE_JOBS = 50
KINDS = tuple(kind.value for kind in JobKind)


@dataclass(frozen=True, slots=True)
class ResultFile:
    field: str
    """Where the answer puts it: ``video``, ``audio_file``, ``model_mesh``..."""
    content_type: str
    url: str | None
    """A signed link on this origin; ``None`` once the file has been removed."""


@dataclass(frozen=True, slots=True)
class JobRow:
    job: Job
    key_prefix: str
    files: list[ResultFile]

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.job.created, UTC)

    @property
    def pill(self) -> str:
        """The status's colour in the table."""
        if self.job.status is JobStatus.COMPLETED:
            return "on"
        return "off" if self.job.status is JobStatus.ERROR else "muted-pill"

    @property
    def error_message(self) -> str:
        return (self.job.error or {}).get("message", "")


async def _account(request: web.Request, session: Session, chosen: str | None) -> int | None:
    """The account whose jobs to show: the session key's, or, for the management key, that of
    the key chosen in the page (``None`` until one is)."""
    prefix = session.key_prefix if session.kind == "key" else chosen
    if prefix is None:
        return None
    key = await request.config_dict[STORE].get_key(prefix)
    if key is None:
        raise web.HTTPNotFound(text=f"There is no API key with the prefix {prefix!r}.")
    return key.account_id


async def _files(media: MediaStore, job: Job) -> list[ResultFile]:
    described: Mapping[str, Any] = (job.result or {}).get("files") or {}
    found = []
    for field, about in described.items():
        file = await media.stat(str(about.get("file_id", "")))
        # Another account's file is never linked, even if a row were to name one.
        url = media.signed_url(file, "") if file is not None and file.owner == str(job.account_id) else None
        found.append(ResultFile(field, str(about.get("content_type") or ""), url))
    return found


async def jobs_page(request: web.Request) -> web.StreamResponse:
    """``GET /console/jobs``."""
    session = await signed_in(request)
    chosen = request.query.get("key") or None
    kind = request.query.get("kind") if request.query.get("kind") in KINDS else None
    account_id = await _account(request, session, chosen)
    store = request.config_dict[STORE]
    rows: list[JobRow] = []
    if account_id is not None:
        jobs = await job_store(store).list_jobs(
            account_id, limit=PAGE_JOBS, kind=None if kind is None else JobKind(kind)
        )
        prefixes = {k.id: k.prefix for k in await store.list_keys(account_id=account_id)}
        media = request.config_dict[MEDIA].files
        rows = [JobRow(job, prefixes.get(job.key_id, ""), await _files(media, job)) for job in jobs]
    return page(
        request,
        "jobs.html",
        session=session,
        rows=rows,
        account_id=account_id,
        kinds=KINDS,
        kind=kind,
        chosen=chosen,
        keys=await store.list_keys() if session.kind == "management" else [],
        limit=PAGE_JOBS,
    )
