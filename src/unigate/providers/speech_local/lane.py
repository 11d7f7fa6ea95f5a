"""``Lane``: one worker thread that runs a model's jobs one at a time, in the order they came, and
the ``Ticket`` that carries a job's results from the thread to the coroutine awaiting them.

As with the chat and embedding models: at most ``max_queue`` jobs are in a lane (the running one
included); one more gets a 503 at once. A job that waited ``max_wait_s`` gets a 503 instead of
running. Cancelling a ticket drops its job if it has not started, and otherwise sets
``ticket.cancelled``, which the job checks between its steps (a sentence spoken, a segment
transcribed) and stops at.

The model itself is loaded by the lane's first job (``Lane.start``'s ``load``), on the same
thread, so that no request ever runs before it and a failed load is each request's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from unigate.errors import GatewayError, Overloaded, UpstreamError

__all__ = ["DONE", "Lane", "Ticket"]

log = logging.getLogger("unigate.providers.speech_local")

M = TypeVar("M")

DONE = object()
"""Posted last to every ticket, whatever happened."""


class Ticket:
    """One job's way back: what the worker posts arrives, in order, at ``next()``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.cancelled = threading.Event()
        self.enqueued_at = time.monotonic()
        self.future: Future[None] | None = None
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    def post(self, item: object) -> None:
        """From the worker thread: ``item`` reaches ``next()`` as soon as the loop runs."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody waits any more
            self.cancelled.set()

    async def next(self) -> object:
        """The next item posted (``DONE`` last); an error the job posted is raised here."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> None:
        """Stop the job: never started if still queued, else at its next step."""
        self.cancelled.set()
        if self.future is not None:
            self.future.cancel()


class Lane(Generic[M]):
    """A worker thread for one model (``M``): see the module."""

    def __init__(self, label: str, *, thread: str, max_queue: int, max_wait_s: float) -> None:
        self.label = label
        """``local text-to-speech model``: how errors name it."""
        self._thread = thread
        self._max_queue = max_queue
        self._max_wait_s = max_wait_s
        self._executor: ThreadPoolExecutor | None = None
        self._load: Callable[[], M] | None = None
        self._model: M | None = None
        self._load_error: BaseException | None = None
        self._in_flight = 0
        self._lock = threading.Lock()

    def start(self, load: Callable[[], M], *, eager: bool) -> Future[None] | None:
        """Start the thread; the model loads on it with the first job, or at once when ``eager``
        (then the returned future completes when it has)."""
        self._load = load
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._thread)
        if eager:
            return self._executor.submit(self._loaded_quietly)
        return None

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        self._model = None

    def model(self) -> M:
        """On the worker thread: the loaded model (loading it the first time)."""
        if self._model is None and self._load_error is None:
            assert self._load is not None
            try:
                self._model = self._load()
            except Exception as exc:
                log.exception("loading the %s failed", self.label)
                self._load_error = exc
        if self._model is None:
            raise UpstreamError(f"The {self.label} failed to load: {self._load_error}")
        return self._model

    def _loaded_quietly(self) -> None:
        with contextlib.suppress(UpstreamError):  # logged; every request reports it
            self.model()

    def submit(self, job: Callable[[Ticket], None]) -> Ticket:
        """Queue ``job`` (it runs on the worker thread, posting to the ticket); ``Overloaded`` when
        the lane is full."""
        executor = self._executor
        if executor is None:
            raise UpstreamError(f"The {self.label} is not running.")
        with self._lock:
            if self._in_flight >= self._max_queue:
                raise Overloaded(f"The {self.label} is busy: its queue is full.", headers={"Retry-After": "1"})
            self._in_flight += 1
        ticket = Ticket(asyncio.get_running_loop())
        try:
            future = executor.submit(self._run, ticket, job)
        except RuntimeError:  # shut down between the check and here
            self._left()
            raise UpstreamError(f"The {self.label} is not running.") from None
        ticket.future = future
        future.add_done_callback(lambda f: self._dropped(ticket) if f.cancelled() else None)
        return ticket

    def _left(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _dropped(self, ticket: Ticket) -> None:
        """A job cancelled before it ran: by its client, or by ``close``."""
        self._left()
        ticket.post(UpstreamError(f"The {self.label} stopped before this request ran."))
        ticket.post(DONE)

    def _run(self, ticket: Ticket, job: Callable[[Ticket], None]) -> None:
        try:
            if ticket.cancelled.is_set():
                return
            if time.monotonic() - ticket.enqueued_at > self._max_wait_s:
                raise Overloaded(
                    f"The {self.label} is busy: waited more than {self._max_wait_s:g}s in its queue.",
                    headers={"Retry-After": "1"},
                )
            job(ticket)
        except GatewayError as exc:
            ticket.post(exc)
        except Exception as exc:
            log.exception("the %s failed", self.label)
            ticket.post(UpstreamError(f"The {self.label} failed: {type(exc).__name__}: {exc}"))
        finally:
            self._left()
            ticket.post(DONE)
