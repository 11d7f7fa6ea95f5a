"""``FalQueue``: fal's queue API (https://fal.ai/docs/api-reference/inference-api), shared by the
image, speech and generation-job adapters of the fal provider.

A request is submitted with ``POST {base}/{app}`` (``Authorization: Key <FAL_KEY>``), which
answers ``{request_id, status_url, response_url, cancel_url}`` (``submit``: a ``Queued``); its
status is one ``GET`` of the status URL (``status``: ``IN_QUEUE`` and ``IN_PROGRESS``, then
``COMPLETED``); the answer is read from the response URL (``result``). A request that failed
answers its error there, with its status (a 422 for an input the app refused), which
``fastapi_errors.py`` reads. ``run`` does all three within one call, polling by ``polling.py``'s
waits (images, speech); a generation job makes each exchange in its own call (``jobs.py``), so
that whichever replica holds the job asks next.

fal says to use the URLs it returns rather than build them; they are used when they are on the
configured host, else the documented paths on that host are (``{base}/{owner}/{app}/requests/
{id}``, the endpoint path left out), so that our key is never sent to another host; the check is
made again on every use, as a job's URLs come back from its row. A client that leaves stops the
polling; the queued request is not cancelled upstream (fal bills only what runs, and a runner
may already hold it).
"""

from __future__ import annotations

from typing import Any, Unpack
from urllib.parse import urlsplit

from unigate.errors import UpstreamError
from unigate.primitives.records import record
from unigate.providers.config import ProviderConfig
from unigate.providers.fastapi_errors import parse_detail_error
from unigate.providers.http import Upstream
from unigate.providers.polling import PollPolicy
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import PollingAdapter, Waits

__all__ = ["POLICY", "RUNNING", "FalQueue", "Queued"]

POLICY = PollPolicy(first_s=0.5, factor=1.5, max_interval_s=4.0, deadline_s=300.0)
"""Most fal apps answer within seconds; a cold runner can take a minute or more."""

RUNNING = frozenset({"IN_QUEUE", "IN_PROGRESS"})


def _same_host(url: Any, base: str) -> bool:
    if not isinstance(url, str):
        return False
    target, own = urlsplit(url), urlsplit(base)
    return (target.scheme, target.netloc) == (own.scheme, own.netloc)


@record
class Queued:
    """A request fal accepted: its id, the app it went to and the URLs fal gave for it."""

    request_id: str
    app: str
    status_url: str = ""
    response_url: str = ""


class FalQueue(PollingAdapter):
    """Submits an app's input, asks for its status and reads its answer (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None, **waits: Unpack[Waits]) -> None:
        upstream = Upstream(config, parse_error=parse_detail_error, transport=transport or build_transport())
        super().__init__(upstream, POLICY, **waits)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.config.api_key or ''}"}

    def _queue_url(self, returned: Any, queued: Queued, tail: str) -> str:
        if _same_host(returned, self.config.base_url or ""):
            return str(returned)
        owner_app = "/".join(queued.app.split("/")[:2])
        return self.url(f"{owner_app}/requests/{queued.request_id}{tail}")

    async def submit(self, app: str, body: dict[str, Any]) -> Queued:
        """Queue ``body`` for ``app``."""
        submitted = await self.upstream.post_json(self.url(app), headers=self._headers(), body=body)
        request_id = submitted.get("request_id") if isinstance(submitted, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise UpstreamError(f"The fal provider accepted a request for {app} without a request_id.")
        status_url, response_url = submitted.get("status_url"), submitted.get("response_url")
        return Queued(
            request_id,
            app,
            status_url if isinstance(status_url, str) else "",
            response_url if isinstance(response_url, str) else "",
        )

    async def status(self, queued: Queued) -> dict[str, Any]:
        """The status fal reports for ``queued`` (one exchange): ``{"status": ..., ...}``."""
        url = self._queue_url(queued.status_url, queued, "/status")
        data = await self.upstream.request_json("GET", url, headers=self._headers())
        if not isinstance(data, dict):
            raise UpstreamError(f"The fal provider answered the status of request {queued.request_id} with no object.")
        return data

    async def result(self, queued: Queued) -> Any:
        """The decoded answer of a completed request (one exchange)."""
        url = self._queue_url(queued.response_url, queued, "")
        return await self.upstream.request_json("GET", url, headers=self._headers())

    async def run(self, app: str, body: dict[str, Any]) -> Any:
        """The decoded answer of ``app`` to ``body``, once the queue has run it."""
        queued = await self.submit(app, body)

        async def completed() -> bool | None:
            data = await self.status(queued)
            status = data.get("status")
            if status == "COMPLETED":
                return True
            if status in RUNNING or status is None:
                return None
            error = data.get("error") or data.get("detail") or "no details given"
            raise UpstreamError(f"The fal provider's request {queued.request_id} ended {str(status).lower()}: {error}")

        await self.wait_for(completed, f"The fal provider's request {queued.request_id} ({app})")
        return await self.result(queued)
