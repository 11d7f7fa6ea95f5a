"""Job webhooks (``core/jobs.py``'s ``Webhooks``): a job's final answer posted to the
``callback_url`` its creator gave, signed, through the guarded transport.

* **Where**: a URL under every rule of ``url_guard.py``: ``http(s)``, no credentials, no internal
  name or private address (``vet``, at create, before anything is charged), and at connect the
  name's addresses vetted again and pinned, so a name that turned private since (DNS rebinding)
  is refused. No redirect is followed: a 3xx is a failed delivery, since following it would post
  the job to a place its creator never named. No proxy unless ``UNIGATE_FETCH_VIA_PROXY``
  (``GuardedClient`` says why).
* **What**: one ``POST`` of the answer as JSON (``Content-Type: application/json``,
  ``User-Agent: unigate-webhooks``), with ``X-Unigate-Event`` (``job.completed`` or
  ``job.failed``, from its ``status``), ``X-Unigate-Timestamp`` and ``X-Unigate-Signature``
  (``webhook_signing.py``).
* **When it counts**: a 2xx answer within ``TIMEOUT_S``; anything else (another status, no
  connection, a timeout, a refused address) is ``False``, never an exception. The poller then
  retries after ``retry_after(attempts)``: 10 s, 30 s, 2 min, 10 min, 30 min, 1 h, then gives up
  (seven attempts over about an hour and three quarters), so a receiver down for a deploy or a
  short outage still gets the job, and one gone for good costs a bounded number of tries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp.abc import AbstractResolver

from unigate.errors import InvalidRequest
from unigate.providers.transport.base import HttpFailure, Request
from unigate.providers.transport.factory import fetch_proxies
from unigate.providers.transport.proxy import Proxies
from unigate.providers.url_guard import FetchError, FetchPolicy, GuardedClient
from unigate.providers.webhook_signing import sign, webhook_secret
from unigate.settings import Settings

__all__ = ["EVENTS", "RETRY_AFTER_S", "TIMEOUT_S", "HttpWebhooks", "retry_after", "webhooks_for"]

log = logging.getLogger("unigate.providers")

TIMEOUT_S = 10.0
"""For one delivery: connecting and the receiver's answer. A receiver should answer at once and
do its work afterwards."""
RETRY_AFTER_S = (10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
MAX_URL_CHARS = 2048
EVENTS = {"completed": "job.completed", "error": "job.failed"}
"""``X-Unigate-Event`` for each status a job ends in."""
USER_AGENT = "unigate-webhooks"


def retry_after(attempts: int) -> float | None:
    """Seconds from the ``attempts``-th failed delivery to the next, ``None`` once it is time to
    give up (the module docstring's schedule)."""
    if attempts < 1:
        return 0.0
    return RETRY_AFTER_S[attempts - 1] if attempts <= len(RETRY_AFTER_S) else None


def webhook_policy() -> FetchPolicy:
    """The guarded client's rules for webhooks: the fetcher's addresses, ``TIMEOUT_S``, no redirect."""
    return FetchPolicy(timeout_s=TIMEOUT_S, max_redirects=0)


class HttpWebhooks:
    """``Webhooks`` over a ``GuardedClient`` of its own, signing with ``secret`` (a string, used
    as its UTF-8 bytes); started and closed with the app. ``clock`` gives the Unix seconds of the
    timestamp (tests move it)."""

    def __init__(
        self,
        secret: str,
        *,
        policy: FetchPolicy | None = None,
        resolver: AbstractResolver | None = None,
        proxies: Proxies | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.policy = policy or webhook_policy()
        self.client = GuardedClient(self.policy, resolver=resolver, proxies=proxies, user_agent=USER_AGENT, headers={})
        self.clock = clock

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def vet(self, url: str) -> None:
        if len(url) > MAX_URL_CHARS:
            raise InvalidRequest(
                f"The callback_url cannot be used: it is longer than {MAX_URL_CHARS} characters.",
                param="callback_url",
                code="invalid_url",
            )
        try:
            self.client.vet(url)
        except FetchError as exc:
            raise InvalidRequest(
                f"The callback_url cannot be used: {exc.message}.", param="callback_url", code="invalid_url"
            ) from exc

    def _signed(self, url: str, payload: Mapping[str, Any]) -> Request:
        """The signed ``POST`` of ``payload`` to ``url`` (``ValueError`` for a job that has not ended)."""
        status = payload.get("status")
        event = EVENTS.get(status) if isinstance(status, str) else None
        if event is None:
            raise ValueError(f"a webhook is sent for a job that has ended, not one {status!r}")
        body = orjson.dumps(dict(payload))
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "X-Unigate-Event": event,
            "X-Unigate-Timestamp": timestamp,
            "X-Unigate-Signature": sign(self.secret, timestamp, body),
        }
        timeout = self.policy.timeout_s
        return Request("POST", url, headers=headers, body=body, connect_s=timeout, total_s=timeout)

    def retry_after(self, attempts: int) -> float | None:
        return retry_after(attempts)

    async def deliver(self, url: str, payload: Mapping[str, Any]) -> bool:
        job = payload.get("id", "?")
        request = self._signed(url, payload)
        try:
            host = self.client.vet(url).host
            async with asyncio.timeout(self.policy.timeout_s):
                resp = await self.client.send(request)
                resp.close()  # its body is not read: the status says it all
        except FetchError as exc:
            log.warning("webhook of job %s not delivered: %s", job, exc.message)
            return False
        except TimeoutError:
            log.warning("webhook of job %s to %s: no answer within %g s", job, host, self.policy.timeout_s)
            return False
        except (HttpFailure, OSError, ValueError) as exc:
            log.warning("webhook of job %s to %s failed (%s)", job, host, type(exc).__name__)
            return False
        if 200 <= resp.status < 300:
            return True
        why = "redirects are not followed" if 300 <= resp.status < 400 else "not a 2xx"
        log.warning("webhook of job %s to %s: answered HTTP %s (%s)", job, host, resp.status, why)
        return False


def webhooks_for(
    settings: Settings, *, resolver: AbstractResolver | None = None, proxies: Proxies | None = None
) -> HttpWebhooks:
    """The webhooks the settings ask for: signed with ``webhook_secret(settings)``, through the
    egress proxy only with ``UNIGATE_FETCH_VIA_PROXY`` (as the fetcher)."""
    return HttpWebhooks(
        webhook_secret(settings), resolver=resolver, proxies=proxies if proxies is not None else fetch_proxies(settings)
    )
