"""``FalQueue``: one request through fal's queue API (https://fal.ai/docs/api-reference/inference-api),
shared by the image and speech adapters of the fal provider.

A request is submitted with ``POST {base}/{app}`` (``Authorization: Key <FAL_KEY>``), which
answers ``{request_id, status_url, response_url, cancel_url}``; the status is asked until it is
``COMPLETED`` (``IN_QUEUE`` and ``IN_PROGRESS`` before; ``polling.py`` for the waits and the
deadline), then the answer is read from the response URL. A request that failed answers its
error there, with its status (a 422 for an input the app refused), which ``fastapi_errors.py``
reads.

fal says to use the URLs it returns rather than build them; they are used when they are on the
configured host, else the documented paths on that host are (``{base}/{owner}/{app}/requests/
{id}``, the endpoint path left out), so that our key is never sent to another host. A client
that leaves stops the polling; the queued request is not cancelled upstream (fal bills only
what runs, and a runner may already hold it).
"""

from __future__ import annotations

from typing import Any, Unpack
from urllib.parse import urlsplit

from unigate.errors import UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.fastapi_errors import parse_detail_error
from unigate.providers.http import Upstream
from unigate.providers.polling import PollPolicy
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import PollingAdapter, Waits

__all__ = ["POLICY", "RUNNING", "FalQueue"]

POLICY = PollPolicy(first_s=0.5, factor=1.5, max_interval_s=4.0, deadline_s=300.0)
"""Most fal apps answer within seconds; a cold runner can take a minute or more."""

RUNNING = frozenset({"IN_QUEUE", "IN_PROGRESS"})


def _same_host(url: Any, base: str) -> bool:
    if not isinstance(url, str):
        return False
    target, own = urlsplit(url), urlsplit(base)
    return (target.scheme, target.netloc) == (own.scheme, own.netloc)


class FalQueue(PollingAdapter):
    """Submits an app's input, polls until it completes and reads its answer (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None, **waits: Unpack[Waits]) -> None:
        upstream = Upstream(config, parse_error=parse_detail_error, transport=transport or build_transport())
        super().__init__(upstream, POLICY, **waits)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.config.api_key or ''}"}

    def _queue_url(self, returned: Any, path: str) -> str:
        return str(returned) if _same_host(returned, self.config.base_url or "") else self.url(path)

    async def run(self, app: str, body: dict[str, Any]) -> Any:
        """The decoded answer of ``app`` to ``body``, once the queue has run it."""
        submitted = await self.upstream.post_json(self.url(app), headers=self._headers(), body=body)
        request_id = submitted.get("request_id") if isinstance(submitted, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise UpstreamError(f"The fal provider accepted a request for {app} without a request_id.")
        owner_app = "/".join(app.split("/")[:2])
        status_url = self._queue_url(submitted.get("status_url"), f"{owner_app}/requests/{request_id}/status")
        response_url = self._queue_url(submitted.get("response_url"), f"{owner_app}/requests/{request_id}")

        async def status() -> bool | None:
            return await self._status(status_url, request_id)

        await self.wait_for(status, f"The fal provider's request {request_id} ({app})")
        return await self.upstream.request_json("GET", response_url, headers=self._headers())

    async def _status(self, url: str, request_id: str) -> bool | None:
        data = await self.upstream.request_json("GET", url, headers=self._headers())
        status = data.get("status") if isinstance(data, dict) else None
        if status == "COMPLETED":
            return True
        if status in RUNNING or status is None:
            return None
        error = data.get("error") or data.get("detail") or "no details given"
        raise UpstreamError(f"The fal provider's request {request_id} ended {str(status).lower()}: {error}")
