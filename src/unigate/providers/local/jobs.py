"""What a local model job is: the request (``Generation``), the events a worker posts back, the
``Job`` that carries them from the worker thread to the waiting coroutine, and what a batch worker
needs from the engine that hands jobs out (``WorkerEngine``).

The engine (``engine.py``) creates its batch workers (``batch.py``), and the workers call back
into it; both import this module, so that neither imports the other back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from unigate.core.results import TokenLogprob
from unigate.errors import Overloaded

__all__ = [
    "DONE",
    "STARTED",
    "ChoiceEnd",
    "EngineEvent",
    "Generation",
    "Job",
    "PromptReady",
    "SamplerSettings",
    "TextChunk",
    "WorkerEngine",
    "overloaded",
]


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    """Decoding controls with OpenAI's neutral defaults (no top-k, top-p or min-p cut)."""

    temperature: float = 1.0
    """0 means greedy."""
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    """Choice ``i`` uses ``seed + i``; ``None`` draws a fresh seed per request."""
    logit_bias: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Generation:
    """One job: ``n`` completions of a rendered prompt."""

    tokens: tuple[int, ...]
    """The prompt's token ids, as ``LocalEngine.prompt_tokens`` gives them (counted, and checked
    against the context, before the job is queued: ``context.py``)."""
    n: int = 1
    max_tokens: int | None = None
    """Per choice; ``None`` means up to the end of the context."""
    context_limit: int | None = None
    """Context size to respect when smaller than the engine's ``n_ctx``."""
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    stop: tuple[str, ...] = ()
    grammar: str | None = None
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass(frozen=True, slots=True)
class PromptReady:
    """The prompt fits and is about to be evaluated; always the first event of a job."""

    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class TextChunk:
    index: int
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class ChoiceEnd:
    index: int
    finish_reason: Literal["stop", "length"]
    completion_tokens: int
    """Every sampled token, the end-of-turn token included."""
    stop_sequence: str | None = None
    """The caller's stop sequence the output was cut at (so it may be incomplete JSON)."""
    closed: bool = False
    """The budget ended the choice (``length``) but its text is a whole value of the grammar:
    ``closing.py`` closed it in time."""


EngineEvent = PromptReady | TextChunk | ChoiceEnd

STARTED = object()
"""Posted when a worker admits the job (before ``PromptReady``)."""
DONE = object()
"""Posted last, whatever happened."""


def overloaded(message: str) -> Overloaded:
    return Overloaded(message, headers={"Retry-After": "1"})


class Job:
    """One queued generation and the way its events reach the waiting coroutine."""

    def __init__(self, generation: Generation, loop: asyncio.AbstractEventLoop) -> None:
        self.generation = generation
        self.loop = loop
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.cancelled = threading.Event()
        self.enqueued_at = time.monotonic()
        self.state: Literal["queued", "running", "dropped"] = "queued"
        """Guarded by the engine's condition."""
        self._outbox: list[object] = []
        self._outbox_lock = threading.Lock()
        self._wakeup_pending = False

    def post(self, item: object) -> None:
        """Called by the worker; delivers ``item`` to the coroutine as soon as the loop runs."""
        with self._outbox_lock:
            self._outbox.append(item)
            if self._wakeup_pending:
                return
            self._wakeup_pending = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()

    def _drain(self) -> None:
        with self._outbox_lock:
            items, self._outbox, self._wakeup_pending = self._outbox, [], False
        for item in items:
            self.queue.put_nowait(item)


class WorkerEngine(Protocol):
    """The engine as its batch workers see it: the loaded model's vocabulary and limits, and the
    queue they take jobs from and report them to (``LocalEngine`` in ``engine.py``)."""

    closing: bool
    """Set when the engine shuts down: workers stop."""
    n_ctx: int
    """The most tokens one job may use (prompt plus answer)."""
    n_vocab: int
    vocab: Any
    """llama.cpp's vocabulary of the loaded model."""

    def next_job(self, *, wait: bool) -> Job | None: ...

    def job_started(self, job: Job, prompt_tokens: int) -> None: ...

    def job_done(self, job: Job) -> None: ...

    def piece(self, token: int, *, special: bool = False) -> bytes: ...
