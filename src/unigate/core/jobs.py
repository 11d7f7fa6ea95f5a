"""Generation jobs: the canonical request of a video, music or 3D model, what its upstream answers
while it runs, the durable job row that outlives any one process, and the store that keeps it.

A job is recorded (``JobStore.create``) before its upstream is asked for anything, with the
reservation that pays for it; from then on it is the row, not a process, that says where it is.
Pollers in every replica ``claim`` due rows under a lease (a replica that dies leaves its leases
to expire and another takes them), ask the upstream, store the result files, settle the
reservation once (a second settlement of one reservation is a no-op, so a replica that finishes a
job another already finished charges nothing more) and end the row. ``core/job_flow.py`` holds
that flow; ``storage/{sqlite,postgres}/jobs.py`` hold the rows.

=================  ==============================================================================
``phase``          what the row waits for
=================  ==============================================================================
``submit``         its upstream call: not made yet (``submitted`` false: a poller makes it for an
                   upstream that runs inline) or under way (``submitted`` true: if the lease that
                   made it expired, nobody knows whether the upstream started, so the job ends in
                   error, refunded, rather than run twice)
``poll``           the upstream's task (``upstream_id``) to end
``callback``       its webhook to be delivered (the job has ended)
``done``           nothing: the row is kept until ``expires``, then removed with its files
=================  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from unigate.core.media import Blob
from unigate.primitives.records import record

__all__ = [
    "GeneratedFile",
    "GenerationRequest",
    "Job",
    "JobChanges",
    "JobKind",
    "JobStatus",
    "JobStore",
    "JobTiming",
    "Progress",
    "Submitted",
    "Webhooks",
]

_NO_OPTIONS: Mapping[str, Any] = {}


class JobKind(StrEnum):
    """What a job makes; the catalog type of its model."""

    VIDEO = "video"
    MUSIC = "music"
    THREE_D = "3d"


class JobStatus(StrEnum):
    """The service's status values, in every poll answer."""

    QUEUED = "queued"
    GENERATING = "generating"
    COMPLETED = "completed"
    ERROR = "error"

    @property
    def ended(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.ERROR)


# -- what a provider is asked, and answers ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One video, music or 3D generation. ``options`` holds every other field the model accepts
    under the service's documented names (``duration``, ``aspect_ratio``, ``resolution``,
    ``image_url``, ``last_image_url``, ``video_url``, ``audio_url``, ``generate_audio``, ``seed``,
    ``negative_prompt``, ``lyrics``...), validated against the model's reference schema
    (``catalog/fields.py``); input URLs among them are public ``http(s)`` URLs (vetted at the edge)
    or ``data:`` URIs. A provider maps those its upstream knows; one it cannot honour is refused in
    ``check_job`` (400), before any credit is reserved."""

    model: str
    kind: JobKind
    prompt: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)
    duration_s: float | None = None
    """The length asked for (video, music), defaults applied: what the reservation prices."""
    variant: str = ""
    """The price variant, ``"<resolution>:<audio|silent>"`` for a video (``catalog/spec.py``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "kind": self.kind.value,
            "prompt": self.prompt,
            "options": dict(self.options),
            "duration_s": self.duration_s,
            "variant": self.variant,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenerationRequest:
        return cls(
            model=str(data["model"]),
            kind=JobKind(data["kind"]),
            prompt=data.get("prompt"),
            options=dict(data.get("options") or {}),
            duration_s=data.get("duration_s"),
            variant=str(data.get("variant") or ""),
        )


@record
class GeneratedFile:
    """One file of a finished job, as the upstream gives it: a URL (fetched through the SSRF-safe
    downloader and re-hosted) or inline bytes. ``field`` is where the service's answer puts it:
    ``video``, ``audio_file``, ``model_mesh``, or another key of the model's documented answer."""

    field: str
    url: str | None = None
    blob: Blob | None = None
    content_type: str = ""
    """When the upstream says it; else the download's own."""
    filename: str = ""


@record
class Submitted:
    """An upstream's acknowledgement of a job: its id there, and what else polling it needs
    (a status URL, a region...), kept in the row as JSON. ``outcome`` is set by an upstream that
    ran the job within the call (a synchronous API)."""

    upstream_id: str
    state: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)
    outcome: Progress | None = None


@record
class Progress:
    """What the upstream says of a job: still ``queued`` or ``generating``; ``completed`` with its
    ``files``; or ``error`` with a ``message`` for the client. ``duration_s`` is the length made,
    when the upstream reports it (a job is settled on it, never above its reservation)."""

    status: JobStatus
    files: tuple[GeneratedFile, ...] = ()
    message: str = ""
    duration_s: float | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)
    """Anything else of the model's documented answer to pass on (``seed``, ``timings``...)."""


@dataclass(frozen=True, slots=True)
class JobTiming:
    """How a runner's jobs are polled: the first wait, growing by ``factor`` up to
    ``max_interval_s`` between two polls, and the ``deadline_s`` after creation past which a job
    that has not ended fails (refunded), whatever the upstream says."""

    first_s: float = 5.0
    factor: float = 1.5
    max_interval_s: float = 30.0
    deadline_s: float = 3600.0

    def wait(self, attempts: int) -> float:
        """Seconds before the poll that follows ``attempts`` polls."""
        return min(self.first_s * self.factor ** min(attempts, 60), self.max_interval_s)


# -- the durable row ----------------------------------------------------------------------------------

Phase = Literal["submit", "poll", "callback", "done"]


@dataclass(frozen=True, slots=True)
class Job:
    """One job as its row holds it (see the module for ``phase``). Times are Unix seconds."""

    id: str
    """Unguessable (160 random bits), prefixed by nothing an attacker could use."""
    account_id: int
    key_id: int
    model: str
    kind: JobKind
    request: Mapping[str, Any]
    """``GenerationRequest.to_json()``."""
    reservation_id: str
    reserved: int
    """Credits reserved at creation: the worst case."""
    created: float
    deadline: float
    """Past this the job ends in error, refunded."""
    status: JobStatus = JobStatus.QUEUED
    phase: Phase = "submit"
    submitted: bool = False
    upstream_id: str | None = None
    upstream_state: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)
    charged: int | None = None
    """Credits settled, once the job ended."""
    result: Mapping[str, Any] | None = None
    """The answer's files and details: ``{"files": {field: {file_id, content_type, size,
    filename}}, "details": {...}, "duration_s": ...}``."""
    error: Mapping[str, str] | None = None
    """``{"name": ..., "message": ...}``, the service's shape."""
    callback_url: str | None = None
    callback_attempts: int = 0
    attempts: int = 0
    """Polls made so far (the backoff grows with it)."""
    next_at: float = 0.0
    """When a poller should next look at it."""
    lease_owner: str | None = None
    lease_until: float = 0.0
    updated: float = 0.0
    ended: float | None = None
    expires: float | None = None
    """Set when it ends: removed with its files after this."""

    @property
    def generation(self) -> GenerationRequest:
        return GenerationRequest.from_json(self.request)


@dataclass(frozen=True, slots=True)
class JobChanges:
    """The columns a poller changes; ``None`` leaves one as it is (``clear_lease`` drops the lease
    so that the row is free again at ``next_at``)."""

    status: JobStatus | None = None
    phase: Phase | None = None
    submitted: bool | None = None
    upstream_id: str | None = None
    upstream_state: Mapping[str, Any] | None = None
    charged: int | None = None
    result: Mapping[str, Any] | None = None
    error: Mapping[str, str] | None = None
    callback_attempts: int | None = None
    attempts: int | None = None
    next_at: float | None = None
    lease_until: float | None = None
    ended: float | None = None
    expires: float | None = None
    clear_lease: bool = False


class JobStore(Protocol):
    """The job rows, in the accounts database (SQLite, or PostgreSQL when scaled out). Every
    method raises the store's ``failures`` when the database cannot answer."""

    async def create_job(self, job: Job) -> None:
        """Record ``job`` (its ``lease_owner`` and ``lease_until`` as given: the creating
        process holds the lease while it submits)."""
        ...

    async def get_job(self, job_id: str, account_id: int) -> Job | None:
        """The job if it exists and belongs to ``account_id``; ``None`` otherwise (the same for
        another account's job as for none)."""
        ...

    async def list_jobs(self, account_id: int, *, limit: int = 50, kind: JobKind | None = None) -> list[Job]:
        """The account's jobs, newest first."""
        ...

    async def claim_jobs(self, owner: str, *, now: float, lease_s: float, limit: int) -> list[Job]:
        """Up to ``limit`` rows not in phase ``done`` whose ``next_at`` has come and whose lease
        is free or expired, leased to ``owner`` until ``now + lease_s`` (``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL: two replicas never claim one row), oldest ``next_at`` first."""
        ...

    async def update_job(self, job_id: str, owner: str, changes: JobChanges, *, now: float) -> bool:
        """Apply ``changes`` if ``owner`` still holds the row's lease (and it has not expired);
        whether it did. A poller whose lease was lost stops there: another has the job."""
        ...

    async def remove_jobs(self, *, now: float, limit: int = 500) -> list[Job]:
        """Delete up to ``limit`` rows in phase ``done`` whose ``expires`` has passed; the rows
        deleted (their files are the caller's to remove)."""
        ...

    async def count_jobs(self, statuses: Sequence[JobStatus]) -> int:
        """How many rows have one of ``statuses`` (for metrics and tests)."""
        ...


class Webhooks(Protocol):
    """Posts a job's final answer to the ``callback_url`` its creator gave (beyond the service:
    its docs have no webhooks). The URL is vetted like any client URL (never a private address);
    each post is signed (an HMAC-SHA256 header, documented in docs/webhooks.md) so that the
    receiver can tell it came from this gateway. The poller retries a failed delivery with
    backoff. Started and closed with the app."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def vet(self, url: str) -> None:
        """Raise ``InvalidRequest`` (``param="callback_url"``) for a URL that may not be used,
        with the checks that need no network (at create, before anything is charged)."""
        ...

    async def deliver(self, url: str, payload: Mapping[str, Any]) -> bool:
        """One attempt: whether the receiver took it (a 2xx answer). Never raises for what the
        receiver or the network did."""
        ...

    def retry_after(self, attempts: int) -> float | None:
        """Seconds before the next attempt after ``attempts`` failed ones; ``None``: give up."""
        ...
