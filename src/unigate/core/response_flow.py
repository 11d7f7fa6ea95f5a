"""The flow of stored responses (``core/responses.py`` has the row): recording one, following a
chain, reading, cancelling and deleting, and running a background response to its end.

A foreground response (``background`` false) runs through the gateway like any chat request and
is recorded once answered; what fails before that is not stored. A background one is checked and
reserved for within its create request (what the gateway refuses is the client's 4xx, nothing
charged), recorded ``queued`` with its reservation, and answered at once; a task of this process
then runs it (``in_progress``), records its end and settles. The row is written before the
settlement: a process that dies between the two leaves an answer its reservation's expiry
refunds, never a charge for an answer nobody can read.

Settlement is once, whoever comes first: the task (the actual cost when it completed; the prompt
estimate when cancelled after it started, as for a client that leaves; nothing when it failed or
this process stops), or ``keeper.py`` for a row whose process died (nothing), or the reservation's
expiry. A second settlement of one reservation is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from unigate.accounts import scopes
from unigate.accounts.store import ApiKey, Reservation
from unigate.core.chat import ChatRequest
from unigate.core.gateway import Call, Charge, Gateway, authorize
from unigate.core.provider import Provider
from unigate.core.responses import ResponseStatus, ResponseStore, StoredResponse
from unigate.core.results import ChatResult, Usage
from unigate.errors import GatewayError, InvalidRequest, NotFound
from unigate.limits.window import Admission
from unigate.observability import events

__all__ = ["MAX_CHAIN", "Render", "ResponseGateway"]

log = logging.getLogger("unigate.responses")

MAX_CHAIN = 1000
"""The most responses one chain may hold (each turn reads all of them)."""

Render = Callable[[ChatResult, Charge], Mapping[str, Any]]
"""The API's ``response`` object for a result and its charge."""

STOPPED = {
    "code": "server_error",
    "message": "The gateway stopped while it ran this response; it was not charged. Create it again.",
}


class ResponseGateway:
    """Stored responses over the gateway and the rows of ``responses``."""

    def __init__(
        self,
        gateway: Gateway,
        responses: ResponseStore,
        *,
        replica: str,
        lease_s: float = 60.0,
        retention_s: float = 30 * 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gateway = gateway
        self.responses = responses
        self.replica = replica
        """This process's name on the leases of the background responses it runs."""
        self.lease_s = lease_s
        self.retention_s = retention_s
        self.clock = clock
        self.tasks: dict[str, asyncio.Task[None]] = {}
        """The background responses this process runs, by id, until their model has answered
        (then they only record and settle, which nothing interrupts)."""
        self._all: set[asyncio.Task[None]] = set()
        self.stopping = False

    # -- reading --------------------------------------------------------------------------------

    async def find(self, response_id: str, key: ApiKey) -> StoredResponse:
        """The response, for a key of the account that created it; 404 for anything else."""
        authorize(key, scopes.RESPONSES)
        row = await self.responses.get_response(response_id, key.account_id) if response_id else None
        if row is None:
            raise NotFound(f"Response with id {response_id!r} not found.")
        return row

    async def chain(self, response_id: str, key: ApiKey, *, param: str | None = None) -> list[StoredResponse]:
        """The response and every one it continued, oldest first. ``param`` names the field the
        id came from (``previous_response_id``), whose errors then say so; without it, a chain
        whose older part is gone is what remains of it."""
        authorize(key, scopes.RESPONSES)
        found = await self.responses.response_chain(response_id, key.account_id, limit=MAX_CHAIN)
        if not found:
            if param is None:
                raise NotFound(f"Response with id {response_id!r} not found.")
            raise NotFound(
                f"Previous response with id {response_id!r} not found.", param=param, code="previous_response_not_found"
            )
        if param is None:
            return found
        if found[-1].running:
            raise InvalidRequest(
                f"Previous response with id {response_id!r} is still {found[-1].status}: wait until it ends.",
                param=param,
            )
        if found[0].previous_id is not None:
            if len(found) == MAX_CHAIN:
                raise InvalidRequest(f"This chain of responses is longer than {MAX_CHAIN}.", param=param)
            raise NotFound(
                f"Previous response with id {response_id!r} continues {found[0].previous_id!r}, which is no longer "
                "stored.",
                param=param,
                code="previous_response_not_found",
            )
        return found

    # -- recording ------------------------------------------------------------------------------

    def expiry(self) -> float:
        return self.clock() + self.retention_s

    async def record(self, row: StoredResponse, chain: Sequence[StoredResponse] = ()) -> None:
        """Store ``row``; the chain it continues is kept as long as it is."""
        await self.responses.create_response(row)
        await self.responses.keep_responses([r.id for r in chain], until=row.expires)

    async def start(
        self,
        request: ChatRequest,
        key: ApiKey,
        row: StoredResponse,
        *,
        render: Render,
        chain: Sequence[StoredResponse] = (),
        admission: Admission | None = None,
    ) -> StoredResponse:
        """Check, reserve for and record the background response ``row`` (``queued``), and start
        running it in this process; the row as recorded."""
        call, provider = await self.gateway.begin(request, key, scopes.RESPONSES, admission)
        now = self.clock()
        row = replace(
            row,
            model=call.spec.id,
            status="queued",
            background=True,
            reservation_id=call.reservation.id,
            reserved=call.reservation.amount,
            lease_owner=self.replica,
            lease_until=now + self.lease_s,
        )
        try:
            await self.record(row, chain)
        except BaseException:
            await self.gateway.settle(call, 0, "error")
            raise
        task = asyncio.create_task(self._run(row, request, call, provider, render))
        self.tasks[row.id] = task
        self._all.add(task)
        task.add_done_callback(self._all.discard)
        task.add_done_callback(lambda _: self.tasks.pop(row.id, None))
        return row

    async def _run(
        self, row: StoredResponse, request: ChatRequest, call: Call, provider: Provider, render: Render
    ) -> None:
        started = False
        try:
            started = await self.responses.start_response(row.id, self.replica, now=self.clock())
            if not started:  # cancelled or deleted before it started
                await self.gateway.settle(call, 0, "cancelled")
                return
            result = await provider.complete(request, call.spec)
            self.tasks.pop(row.id, None)
        except asyncio.CancelledError:
            if self.stopping:
                await self._end(row, call, "failed", Usage(0, 0), "error", error=STOPPED)
            else:  # the prompt was read, as for a client that leaves
                await self._end(row, call, "cancelled", Usage(call.prompt_estimate if started else 0, 0), "cancelled")
            raise
        except Exception as exc:
            events.upstream_failed(call.spec.provider, exc)
            if not isinstance(exc, GatewayError):
                log.exception("background response %s failed", row.id)
                exc = GatewayError("The server had an error while processing this response.")
            await self._end(row, call, "failed", Usage(0, 0), "error", error={"code": exc.code, "message": exc.message})
            return
        body = render(result, Charge(self._cost(call, result.usage)))
        await self._end(row, call, body.get("status", "completed"), result.usage, "ok", body=body)

    @staticmethod
    def _cost(call: Call, usage: Usage) -> int:
        return min(call.spec.price.cost(usage.prompt_tokens, usage.completion_tokens), call.reservation.amount)

    async def _end(
        self,
        row: StoredResponse,
        call: Call,
        status: ResponseStatus,
        usage: Usage,
        ledger_status: str,
        *,
        body: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the end if this process still holds the row, then settle, once. A row that
        someone else ended meanwhile decides the charge: nothing if a keeper failed it, at most
        the prompt if it was cancelled or deleted."""
        store = self.gateway.store
        try:
            recorded = await self.responses.finish_response(
                row.id, self.replica, status=status, body=body, error=error, now=self.clock()
            )
            if not recorded:
                now = (await self.responses.response_statuses([row.id])).get(row.id)
                if now == "failed":
                    usage, ledger_status = Usage(0, 0), "error"
                elif usage.completion_tokens:
                    usage, ledger_status = Usage(call.prompt_estimate, 0), "cancelled"
        except store.failures as exc:
            # Its lease is no longer renewed: a keeper ends it failed, and it is charged nothing.
            log.warning("could not record the end of response %s: %s", row.id, exc)
            usage, ledger_status = Usage(0, 0), "error"
        await self.gateway.settle(call, self._cost(call, usage), ledger_status, usage)

    # -- cancelling, deleting -------------------------------------------------------------------

    async def cancel(self, response_id: str, key: ApiKey) -> StoredResponse:
        """Cancel a running background response (its task stops here or, on another replica, at
        that replica's next keeper turn); cancelling a cancelled one again changes nothing."""
        row = await self.find(response_id, key)
        if not row.background:
            raise InvalidRequest("Only responses created with background=true can be cancelled.")
        if row.running and await self.responses.cancel_response(row.id, key.account_id, now=self.clock()):
            self.interrupt([row.id])
        row = await self.find(response_id, key)
        if row.status != "cancelled":
            message = f"Cannot cancel a response whose status is {row.status!r}."
            raise InvalidRequest(message, code="response_already_ended")
        return row

    async def delete(self, response_id: str, key: ApiKey) -> None:
        authorize(key, scopes.RESPONSES)
        if not await self.responses.delete_response(response_id, key.account_id):
            raise NotFound(f"Response with id {response_id!r} not found.")
        self.interrupt([response_id])

    def interrupt(self, ids: Sequence[str]) -> None:
        """Stop the tasks of ``ids`` this process runs (cancelled, deleted)."""
        for response_id in ids:
            task = self.tasks.get(response_id)
            if task is not None:
                task.cancel()

    async def stop(self) -> None:
        """At shutdown: end the responses this process runs ``failed``, not charged."""
        self.stopping = True
        tasks = list(self._all)
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle_abandoned(self, row: StoredResponse) -> Charge | None:
        """Settle the reservation of a row a keeper ended (its process died) to nothing."""
        if row.reservation_id is None:
            return None
        try:
            spec = self.gateway.catalog.resolve(row.model)
        except GatewayError:  # no longer served here: its reservation's expiry releases it
            return None
        reservation = Reservation(row.reservation_id, row.account_id, row.key_id, row.reserved)
        return await self.gateway.settle(Call(spec, reservation, 0, time.monotonic()), 0, "error")
