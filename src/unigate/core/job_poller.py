"""The pollers: in every replica, a loop that claims the job rows whose time has come (under a
lease, so that no two replicas work on one row) and moves each a step on (``job_flow.py``).

=========================  =====================================================================
a claimed row in phase     the step
=========================  =====================================================================
``submit``, not submitted  the upstream call of a runner that works within it (``inline``);
                           a call that fails ends the job with its error, refunded
``submit``, submitted      its submitter died while the upstream had it: whether the job
                           started is unknown, so it ends in error, refunded, never sent twice
``poll``                   one question to the upstream; the files stored and the job settled
                           when it completed; refunded when it failed, or when it is past its
                           deadline whatever the upstream says
``callback``               one delivery of its webhook, retried with backoff, then ``done``
=========================  =====================================================================

A step that raises (the upstream unreachable, a download broken off) gives the row back for
later with the backoff of its runner; the deadline bounds the retries. While a step runs, its
lease is renewed every third of its length, so a long download is not taken over. Rows whose
retention has ended are removed with their files once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

from unigate.core.job_flow import JobGateway, error_of
from unigate.core.jobs import Job, JobChanges, JobStatus, Submitted
from unigate.errors import GatewayError

__all__ = ["JobPoller", "payload_of"]

log = logging.getLogger("unigate.jobs")

SWEEP_EVERY_S = 60.0


class JobPoller:
    """Claims due rows every ``tick_s`` (sooner when this process creates one), at most
    ``concurrency`` in flight; ``payload`` renders a job's webhook body."""

    def __init__(
        self,
        flow: JobGateway,
        *,
        tick_s: float = 1.0,
        concurrency: int = 32,
        payload: Callable[[Job], dict[str, object]] | None = None,
    ) -> None:
        self.flow = flow
        self.tick_s = tick_s
        self.concurrency = concurrency
        self.payload = payload or payload_of
        self._running: set[asyncio.Task[None]] = set()
        self.steps = 0
        """Steps taken, for the benchmark's counts."""

    async def run(self) -> None:
        """Poll until cancelled; a store that fails is logged and asked again next tick."""
        last_sweep = 0.0
        while True:
            try:
                await self.claim_once()
                now = self.flow.clock()
                if now - last_sweep >= SWEEP_EVERY_S:
                    last_sweep = now
                    await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("claiming generation jobs failed; trying again in %.0f s", self.tick_s, exc_info=True)
            created = self.flow.created
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(created.wait(), self.tick_s)
            created.clear()

    async def stop(self) -> None:
        """Cancel the steps in flight: their leases expire and another replica goes on."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def claim_once(self) -> int:
        """Claim what is due within the free slots and start a step for each; how many."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        flow = self.flow
        jobs = await flow.jobs.claim_jobs(flow.replica, now=flow.clock(), lease_s=flow.lease_s, limit=free)
        for job in jobs:
            task = asyncio.create_task(self._step_leased(job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(jobs)

    async def drain(self) -> None:
        """Wait for the steps in flight (tests, the benchmark)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def _step_leased(self, job: Job) -> None:
        renewal = asyncio.create_task(self._renew(job))
        try:
            await self.step(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._later(job, exc)
        finally:
            renewal.cancel()
        self.steps += 1

    async def _renew(self, job: Job) -> None:
        flow = self.flow
        while True:
            await asyncio.sleep(flow.lease_s / 3)
            now = flow.clock()
            if not await flow.jobs.update_job(
                job.id, flow.replica, JobChanges(lease_until=now + flow.lease_s), now=now
            ):
                return

    async def _later(self, job: Job, exc: Exception) -> None:
        """Give the row back after a step that failed, to be tried again after its backoff."""
        flow = self.flow
        if not isinstance(exc, GatewayError):
            log.exception("a step of job %s failed", job.id, exc_info=exc)
        else:
            log.info("job %s: %s; asking again later", job.id, exc.message)
        attempts = job.attempts + 1
        try:
            _, runner = flow.runner(job.model, job.kind)
            wait = runner.timing.wait(attempts)
        except GatewayError:
            wait = 60.0  # its provider is gone from this server's configuration: the deadline ends it
        now = flow.clock()
        changes = JobChanges(attempts=attempts, next_at=now + wait, clear_lease=True)
        await flow.jobs.update_job(job.id, flow.replica, changes, now=now)

    # -- the steps ------------------------------------------------------------------------------

    async def step(self, job: Job) -> None:
        """Move one claimed row a step on (the table of the module)."""
        flow = self.flow
        if job.phase == "callback":
            await self._call_back(job)
            return
        if job.phase == "submit" and job.submitted:
            await flow.end(
                job,
                credits=0,
                error={
                    "name": "GatewayRestarted",
                    "message": "The gateway stopped while it handed this job to its upstream, so whether the "
                    "upstream started it is unknown; it was not charged. Create it again.",
                },
            )
            return
        if flow.clock() > job.deadline:
            limit = job.deadline - job.created
            await flow.end(
                job,
                credits=0,
                error={"name": "Timeout", "message": f"The generation did not finish within {limit:.0f} s."},
            )
            return
        spec, runner = flow.runner(job.model, job.kind)
        if job.phase == "submit":
            # Marked first: should this process die within the call, the job is not sent twice.
            now = flow.clock()
            if not await flow.jobs.update_job(job.id, flow.replica, JobChanges(submitted=True), now=now):
                return
            job = replace(job, submitted=True)
            try:
                submitted = await runner.submit(job.generation, spec, reference=job.id)
            except Exception as exc:  # the upstream refused or failed the run: never sent again, so ended
                await flow.end(job, credits=0, error=error_of(exc))
                return
            await flow.submitted(job, submitted, runner)
            return
        progress = await runner.poll(Submitted(job.upstream_id or "", job.upstream_state), spec)
        await flow.conclude(job, progress, runner)

    async def _call_back(self, job: Job) -> None:
        flow = self.flow
        now = flow.clock()
        hooks = flow.webhooks
        delivered = bool(job.callback_url and hooks and await hooks.deliver(job.callback_url, self.payload(job)))
        attempts = job.callback_attempts + 1
        wait = None if delivered or hooks is None else hooks.retry_after(attempts)
        if wait is None:
            if not delivered:
                log.warning("job %s: its webhook was not delivered after %d attempts", job.id, attempts)
            changes = JobChanges(phase="done", callback_attempts=attempts, clear_lease=True)
        else:
            changes = JobChanges(callback_attempts=attempts, next_at=now + wait, clear_lease=True)
        await flow.jobs.update_job(job.id, flow.replica, changes, now=now)

    async def sweep(self) -> int:
        """Remove the rows past their retention, and their files; how many."""
        flow = self.flow
        removed = await flow.jobs.remove_jobs(now=flow.clock())
        for job in removed:
            files = (job.result or {}).get("files") or {}
            for file in files.values() if isinstance(files, dict) else ():
                file_id = file.get("file_id") if isinstance(file, dict) else None
                if isinstance(file_id, str):
                    try:
                        await flow.media.files.delete(file_id)
                    except Exception:  # the media store's own sweep removes it at its expiry
                        log.warning("could not delete %s of expired job %s", file_id, job.id, exc_info=True)
        return len(removed)


def payload_of(job: Job) -> dict[str, object]:
    """A webhook's body when no renderer is given: the job's id, status and error."""
    body: dict[str, object] = {"id": job.id, "status": job.status.value, "model": job.model}
    if job.status is JobStatus.ERROR and job.error:
        body["error"] = dict(job.error)
    return body
