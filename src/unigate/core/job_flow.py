"""The flow of a generation job (video, music, 3D) from its create request to its end, on
whichever replica holds it (``core/jobs.py`` has the row and its phases).

Create: scope, model, the runner's checks, the callback URL, admission, a reservation of the
worst case, extended to the job's deadline plus ``GRACE_S`` (the sweep that frees dead requests'
reservations leaves it alone while the job runs, yet frees it if every replica were gone for
good), then the row, recorded before the upstream is asked anything. An upstream that answers
at once (``inline`` false) is asked within the create request (shielded: a client that leaves
does not abandon a job being handed over), so that what it refuses is the client's 400,
refunded; one that runs the job within the call is left to a poller.

Every later step is a poller's (``job_poller.py``): it holds the row's lease while it works and
gives the row back with its next time. The job settles once, when it ends: to the actual price
when completed (its length made, never above the reservation), to nothing when it fails or
expires. The settlement comes before the row is marked ended, so a crash between the two leaves
a row that a poller ends again; the second settlement of one reservation is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

from unigate.accounts import scopes
from unigate.accounts.store import ApiKey, Reservation
from unigate.catalog.spec import ModelSpec
from unigate.core.files import StoredFile
from unigate.core.gateway import Call, Charge, authorize
from unigate.core.jobs import (
    GeneratedFile,
    GenerationRequest,
    Job,
    JobChanges,
    JobKind,
    JobStatus,
    JobStore,
    Progress,
    Submitted,
    Webhooks,
)
from unigate.core.media_flow import MediaGateway
from unigate.core.media_providers import JobRunner
from unigate.core.services import Modality
from unigate.errors import GatewayError, InvalidRequest, NotFound, UpstreamError
from unigate.limits.window import Admission

__all__ = ["GRACE_S", "JobGateway", "error_of", "new_job_id"]

log = logging.getLogger("unigate.jobs")

GRACE_S = 3600.0
"""How long past its deadline a job's reservation outlives it: the pollers end it first."""

MODALITY = {JobKind.VIDEO: Modality.VIDEO, JobKind.MUSIC: Modality.MUSIC, JobKind.THREE_D: Modality.THREE_D}
SCOPE = {JobKind.VIDEO: scopes.VIDEO, JobKind.MUSIC: scopes.AUDIO, JobKind.THREE_D: scopes.IMAGE}
"""Music is audio made, 3D is made from images, as the media issue's scopes decided."""


def new_job_id() -> str:
    """160 random bits from the system's generator: a job id grants reading its result."""
    return secrets.token_hex(20)


class JobGateway:
    """Generation jobs over the media flow (its gateway, files and downloader) and the job rows."""

    def __init__(
        self,
        media: MediaGateway,
        jobs: JobStore,
        *,
        replica: str,
        lease_s: float = 120.0,
        retention_s: float = 86400.0,
        webhooks: Webhooks | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.media = media
        self.gateway = media.gateway
        self.jobs = jobs
        self.replica = replica
        """This process's name on the leases it takes."""
        self.lease_s = lease_s
        self.retention_s = retention_s
        self.webhooks = webhooks
        self.clock = clock
        self.created = asyncio.Event()
        """Set when this process records a job a poller should take at once (``inline``)."""

    # -- models ---------------------------------------------------------------------------------

    def runner(self, model: str, kind: JobKind) -> tuple[ModelSpec, JobRunner]:
        """The catalog model and the runner of its provider, or the 4xx/503 saying why not."""
        modality = MODALITY[kind]
        return self.media.serving(model, modality, lambda provider: self.gateway.services.jobs(provider, modality))

    def worst_case(self, request: GenerationRequest, spec: ModelSpec) -> int:
        price = self.media.price(spec)
        units = 1.0 if price.unit == "generation" else request.duration_s
        if units is None:
            raise InvalidRequest(f"The model {spec.id!r} is priced by length, and this request names none.")
        return price.cost(units, request.variant)

    # -- create ---------------------------------------------------------------------------------

    async def create(
        self,
        request: GenerationRequest,
        key: ApiKey,
        *,
        callback_url: str | None = None,
        admission: Admission | None = None,
    ) -> Job:
        """Record and start a job for ``key``: the row as it stands once the upstream took it."""
        authorize(key, SCOPE[request.kind])
        spec, runner = self.runner(request.model, request.kind)
        runner.check_job(request, spec)
        if callback_url is not None:
            if self.webhooks is None:
                raise InvalidRequest("This server sends no webhooks.", param="callback_url")
            self.webhooks.vet(callback_url)
        worst = self.worst_case(request, spec)
        call = await self.media.begin(key, spec, worst, admission)
        now = self.clock()
        job = Job(
            id=new_job_id(),
            account_id=key.account_id,
            key_id=key.id,
            model=spec.id,
            kind=request.kind,
            request=request.to_json(),
            reservation_id=call.reservation.id,
            reserved=worst,
            created=now,
            deadline=now + runner.timing.deadline_s,
            submitted=not runner.inline,
            callback_url=callback_url,
            next_at=now if runner.inline else now + self.lease_s,
            lease_owner=None if runner.inline else self.replica,
            lease_until=0.0 if runner.inline else now + self.lease_s,
            updated=now,
        )
        try:
            # Extended first: a row must never exist whose reservation the sweep could free.
            await self.gateway.store.extend_reservations([call.reservation.id], runner.timing.deadline_s + GRACE_S)
            await self.jobs.create_job(job)
        except BaseException:
            await self.gateway.settle(call, 0, "error")
            raise
        self.gateway.held.discard(call.reservation.id)  # the row holds it now, not this process
        if runner.inline:
            self.created.set()
            return job
        return await asyncio.shield(self._hand_over(job, request, spec, runner))

    async def _hand_over(self, job: Job, request: GenerationRequest, spec: ModelSpec, runner: JobRunner) -> Job:
        try:
            submitted = await runner.submit(request, spec, reference=job.id)
        except GatewayError as exc:
            await self.end(job, error=error_of(exc), credits=0)
            raise
        except Exception as exc:
            log.exception("submitting job %s to %s failed", job.id, spec.provider)
            await self.end(job, error=error_of(exc), credits=0)
            raise UpstreamError(f"The {spec.provider} provider could not take the job.") from exc
        return await self.submitted(job, submitted, runner)

    async def submitted(self, job: Job, submitted: Submitted, runner: JobRunner) -> Job:
        """Record the upstream's acknowledgement and give the row back to the pollers; an upstream
        that ran the job within the call has it delivered now, by this holder of the lease."""
        now = self.clock()
        changes = JobChanges(
            phase="poll",
            submitted=True,
            upstream_id=submitted.upstream_id,
            upstream_state=dict(submitted.state),
            next_at=now + runner.timing.first_s,
            clear_lease=submitted.outcome is None,
        )
        if not await self.jobs.update_job(job.id, self.replica, changes, now=now):
            return job
        job = _applied(job, changes)
        if submitted.outcome is not None:
            job = await self.conclude(job, submitted.outcome, runner)
        return job

    async def conclude(self, job: Job, progress: Progress, runner: JobRunner) -> Job:
        """Act on what the upstream said of ``job``: give the row back with its next poll while it
        runs; store its files and settle when it completed; refund when it failed. The row as it
        then reads (unchanged if this replica lost the lease)."""
        now = self.clock()
        if progress.status is JobStatus.ERROR:
            return await self.end(job, credits=0, error={"name": "GenerationFailed", "message": progress.message})
        if progress.status is JobStatus.COMPLETED:
            spec = self.gateway.catalog.resolve(job.model)
            stored: list[StoredFile] = []
            try:
                files = {f.field: await self._keep(job, f, stored) for f in progress.files}
                if not files:
                    raise UpstreamError(f"The {spec.provider} provider's job {job.upstream_id} ended without a file.")
            except BaseException:
                await self.media.forget(stored)
                raise
            request = job.generation
            made = progress.duration_s if progress.duration_s is not None else request.duration_s
            price = self.media.price(spec)
            credits = price.cost(1.0 if price.unit == "generation" else made or 0.0, request.variant)
            result: dict[str, object] = {"files": files, "details": dict(progress.details), "duration_s": made}
            return await self.end(job, credits=credits, result=result)
        attempts = job.attempts + 1
        changes = JobChanges(
            status=progress.status, attempts=attempts, next_at=now + runner.timing.wait(attempts), clear_lease=True
        )
        if await self.jobs.update_job(job.id, self.replica, changes, now=now):
            return _applied(job, changes)
        return job

    async def _keep(self, job: Job, file: GeneratedFile, stored: list[StoredFile]) -> dict[str, object]:
        """Store one result file for the job's account (streamed from its URL, never held whole)."""
        owner = str(job.account_id)
        if file.blob is not None:
            kept = await self.media.files.put(owner, file.blob)
        elif file.url is not None:
            async with self.media.downloader.open(file.url, max_bytes=self.media.max_download_bytes) as body:
                kind = file.content_type or body.content_type
                kept = await self.media.files.put_stream(
                    owner, kind, body.chunks, filename=file.filename or body.filename
                )
        else:
            raise UpstreamError("The upstream returned a file without data or URL.")
        stored.append(kept)
        return {
            "file_id": kept.id,
            "content_type": kept.content_type,
            "size": kept.size,
            "filename": kept.filename,
            "created": kept.created,
            "expires": kept.expires,
        }

    # -- reading --------------------------------------------------------------------------------

    async def get(self, job_id: str, key: ApiKey, kind: JobKind | None = None) -> Job:
        """The job, for a key of the account that created it; 404 for anything else."""
        job = await self.jobs.get_job(job_id, key.account_id) if job_id else None
        if job is None or (kind is not None and job.kind is not kind):
            raise NotFound(f"No generation with the id {job_id!r}.", param="generation_id", code="generation_not_found")
        return job

    async def wait(self, job: Job, key: ApiKey, *, first_s: float = 0.25, max_s: float = 2.0) -> Job:
        """``job`` once it has ended (3D answers within its request), asking its row with a
        growing wait; a job never outlives its deadline, which bounds this."""
        delay = first_s
        while not job.status.ended:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, max_s)
            job = await self.get(job.id, key)
        return job

    # -- ending ---------------------------------------------------------------------------------

    async def settle(self, job: Job, credits: int, status: str) -> Charge:
        """Settle ``job``'s reservation, from any replica (a second settlement is a no-op)."""
        spec = self.gateway.catalog.resolve(job.model)
        reservation = Reservation(job.reservation_id, job.account_id, job.key_id, job.reserved)
        started = time.monotonic() - max(0.0, self.clock() - job.created)
        return await self.gateway.settle(Call(spec, reservation, 0, started), credits, status)

    async def end(
        self,
        job: Job,
        *,
        credits: int,
        error: dict[str, str] | None = None,
        result: dict[str, object] | None = None,
    ) -> Job:
        """Settle ``job`` and mark its row ended (completed with ``result``, else in ``error``):
        the row as it then reads (unchanged if this replica no longer held it)."""
        charge = await self.settle(job, credits, "ok" if error is None else "error")
        now = self.clock()
        callback = job.callback_url is not None and self.webhooks is not None
        changes = JobChanges(
            status=JobStatus.ERROR if error is not None else JobStatus.COMPLETED,
            phase="callback" if callback else "done",
            charged=charge.credits,
            result=result,
            error=error,
            attempts=0,
            next_at=now,
            ended=now,
            expires=now + self.retention_s,
            clear_lease=True,
        )
        if await self.jobs.update_job(job.id, self.replica, changes, now=now):
            return _applied(job, changes)
        return job


def error_of(exc: BaseException) -> dict[str, str]:
    """A job's ``error`` for what ended it: a gateway error's class and message, else a generic one."""
    if isinstance(exc, GatewayError):
        return {"name": type(exc).__name__, "message": exc.message}
    return {"name": "UpstreamError", "message": "The upstream could not take the job."}


def _fields(changes: JobChanges) -> dict[str, object]:
    return {name: getattr(changes, name) for name in JobChanges.__dataclass_fields__}


def _applied(job: Job, changes: JobChanges) -> Job:
    """``job`` as its row reads after ``changes``."""
    values = {k: v for k, v in _fields(changes).items() if v is not None and k != "clear_lease"}
    if changes.clear_lease:
        values |= {"lease_owner": None, "lease_until": 0.0}
    return replace(job, **values)  # type: ignore[arg-type]
