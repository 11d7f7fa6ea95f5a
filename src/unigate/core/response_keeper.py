"""The keeper of stored responses, in every replica: a loop that, every third of the lease,
renews the leases of the background responses this process runs and stops those cancelled or
deleted through another replica; ends ``failed`` the running rows whose lease ran out (their
process died) and settles their reservations to nothing; and once a minute removes the rows past
their retention. ``response_flow.py`` says who settles what.
"""

from __future__ import annotations

import asyncio
import logging

from unigate.core.response_flow import ResponseGateway

__all__ = ["ABANDONED", "ResponseKeeper"]

log = logging.getLogger("unigate.responses")

SWEEP_EVERY_S = 60.0

ABANDONED = {
    "code": "server_error",
    "message": "The gateway process that ran this response stopped before it ended; it was not charged. "
    "Create it again.",
}


class ResponseKeeper:
    def __init__(self, flow: ResponseGateway) -> None:
        self.flow = flow
        self._last_sweep = 0.0

    async def run(self) -> None:
        """Keep until cancelled; a store that fails is logged and asked again next turn."""
        while True:
            try:
                await self.turn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("keeping stored responses failed; trying again", exc_info=True)
            await asyncio.sleep(self.flow.lease_s / 3)

    async def turn(self) -> int:
        """One turn; how many abandoned rows it ended."""
        flow = self.flow
        responses = flow.responses
        now = flow.clock()
        mine = list(flow.tasks)
        if mine:
            await responses.renew_responses(flow.replica, mine, until=now + flow.lease_s)
            statuses = await responses.response_statuses(mine)
            flow.interrupt([i for i in mine if statuses.get(i) not in ("queued", "in_progress")])
        ended = await responses.fail_abandoned(now=now, error=ABANDONED)
        for row in ended:
            log.warning("response %s was abandoned by the process that ran it; ended failed", row.id)
            await flow.settle_abandoned(row)
        if now - self._last_sweep >= SWEEP_EVERY_S:
            self._last_sweep = now
            await responses.remove_responses(now=now)
        return len(ended)
