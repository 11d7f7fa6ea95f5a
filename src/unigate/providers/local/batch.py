"""Continuous batching for the embedded model: one llama.cpp context serves up to ``parallel`` jobs
at once, each in a sequence of its own, and each step decodes the next token of every generating
sequence in one ``llama_decode`` call. A job joins or leaves between two steps; nobody waits for
the longest answer in the batch.

Output never depends on what else runs (``test_concurrent_requests_do_not_interfere`` compares
seeded outputs alone and together):
* every sequence has KV cells of its own (llama.cpp's per-sequence streams, ``n_ctx`` each), so
  its attention reads its own cells, laid out exactly as when nothing else runs. (In the unified
  cache, shared by all sequences, where a token's cells land depends on the others, and that
  alone changed sampled tokens in the last bits.) It also keeps attention from reading every
  other sequence's cells, which made long answers slower together than alone;
* a prompt is evaluated alone, in fixed 64-token chunks from position 0, one chunk per step
  between decode steps, exactly as when nothing else runs; chunks identical to ones a finished
  job left in the sequence are reused whole (a shorter tail would take other kernels);
* a decode step holds one token per sequence, and on llama.cpp's CPU kernels each row of such a
  batch comes out bit for bit as it would alone;
* each choice has its own sampler chain and seed, and (with a grammar) its own ``Closer``, which
  ends its JSON within its own budget (``closing.py``).

The price is memory: ``parallel`` times ``n_ctx`` KV cells, allocated up front (about 23 KB per
cell for SmolLM2-135M: 4 x 4096 cells is about 360 MiB).
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable
from typing import Any, Literal

import llama_cpp
import numpy as np
import numpy.typing as npt

from unigate.core.results import TokenLogprob
from unigate.errors import GatewayError, UpstreamError
from unigate.providers.local.closing import Closer
from unigate.providers.local.context import context_exceeded, context_limit
from unigate.providers.local.jobs import ChoiceEnd, Job, TextChunk, WorkerEngine
from unigate.providers.local.sampling import RowSampler, TextStream, sampler_chain, token_logprob

__all__ = ["CHUNK", "BatchWorker"]

logger = logging.getLogger(__name__)

CHUNK = 64
"""Prompt evaluation batch: as fast as larger ones here, and the unit of KV-cache reuse."""
_SEED_MODULUS = 0xFFFFFFFF
"""llama.cpp reads seed 0xFFFFFFFF as "pick a random one", so seeds are kept below it."""
_order = itertools.count()


class _Run:
    """A job admitted to a sequence: its prompt, then its choices one after the other."""

    def __init__(self, job: Job, tokens: list[int], limit: int) -> None:
        self.job = job
        self.gen = job.generation
        self.tokens = tokens
        self.limit = limit
        """Tokens per choice."""
        self.order = next(_order)
        seed = self.gen.sampler.seed
        self.base_seed = secrets.randbits(32) if seed is None else seed
        self.primed = 0
        """Prompt tokens in the KV cells so far."""
        self.prompt_logits: npt.NDArray[np.float32] | None = None
        """The prompt's last logits, kept for the first token of choices after the first."""
        self.index = 0
        self.chain: Any = None
        self.closer: Closer | None = None
        self.text = TextStream(self.gen.stop)
        self.count = 0
        """Tokens sampled for the current choice."""
        self.next_token = -1
        """Sampled and still to be decoded (-1: none)."""

    @property
    def pos(self) -> int:
        """Where ``next_token`` goes: after the prompt and the choice's tokens decoded before it."""
        return len(self.tokens) + self.count - 1


class _Slot:
    """One sequence of the context, and what its KV cells hold."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.cached: list[int] = []
        """Prompt tokens whose cells are in this sequence (the last job's, kept for reuse)."""
        self.run: _Run | None = None


def _reusable(cached: list[int], tokens: list[int]) -> int:
    """How many of ``tokens`` can stay in a sequence holding ``cached``: whole chunks only, and
    never the last token (its logits are needed)."""
    common = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        common += 1
    return min(common, len(tokens) - 1) // CHUNK * CHUNK


class BatchWorker:
    """One llama.cpp context and its sequences, run by one worker thread (``run``)."""

    def __init__(self, engine: WorkerEngine, llama: Any, *, parallel: int, n_threads: int) -> None:
        self._engine = engine
        self._llama = llama
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = engine.n_ctx * parallel  # split evenly: n_ctx cells per sequence
        params.n_batch = params.n_ubatch = max(CHUNK, parallel)
        params.n_seq_max = parallel
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self._ctx = llama_cpp.llama_init_from_model(llama.model, params)
        if not self._ctx:
            raise RuntimeError("llama.cpp could not create a context for the local model")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._slots = [_Slot(seq) for seq in range(parallel)]
        self._rows = RowSampler(engine.n_vocab)

    # ---- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        engine = self._engine
        try:
            while not engine.closing:
                try:
                    self._turn()
                except Exception:
                    # A bug outside one job's own work: fail what this worker holds, keep serving.
                    logger.exception("local model worker failed")
                    self._fail_all(UpstreamError("The local model failed while generating."))
        finally:
            self._close()

    def _turn(self) -> None:
        """Start a queued job if a sequence is free (waiting for one when idle), then step."""
        free = [slot for slot in self._slots if slot.run is None]
        if free:
            job = self._engine.next_job(wait=len(free) == len(self._slots))
            run = self._prepare(job) if job is not None else None
            if run is not None:
                self._admit(run, free)
        if any(slot.run for slot in self._slots):
            self._step()

    def _fail_all(self, exc: GatewayError) -> None:
        for slot in self._slots:
            self._fail(slot, exc)

    def _close(self) -> None:
        """Stop what runs (``shutdown`` cancelled it) and free the context."""
        for slot in self._slots:
            if slot.run is not None:
                self._end(slot)
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)

    def _prepare(self, job: Job) -> _Run | None:
        """``job``'s run, its prompt checked against its context once more (the provider refused
        what does not fit before queueing it: ``context.py``; else the job fails here)."""
        gen, engine = job.generation, self._engine
        n_ctx = context_limit(engine.n_ctx, gen.context_limit)
        if len(gen.tokens) >= n_ctx:
            job.post(context_exceeded(n_ctx, len(gen.tokens)))
            engine.job_done(job)
            return None
        room = n_ctx - len(gen.tokens)
        return _Run(job, list(gen.tokens), room if gen.max_tokens is None else min(gen.max_tokens, room))

    def _admit(self, run: _Run, free: list[_Slot]) -> None:
        """Give ``run`` the free sequence whose cached prompt it shares most of."""
        slot = max(free, key=lambda s: _reusable(s.cached, run.tokens))
        start = _reusable(slot.cached, run.tokens)
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, start, -1)
        slot.cached = run.tokens[:start]
        run.primed = start
        slot.run = run
        self._engine.job_started(run.job, len(run.tokens))

    def _step(self) -> None:
        """Drop cancelled jobs, evaluate one prompt chunk, then decode one token per sequence."""
        for slot in self._slots:
            if slot.run is not None and slot.run.job.cancelled.is_set():
                self._end(slot)
        priming = [s for s in self._slots if s.run is not None and s.run.primed < len(s.run.tokens)]
        if priming:
            self._guarded(min(priming, key=lambda s: _running(s).order), self._prime_chunk)
        generating = [s for s in self._slots if s.run is not None and s.run.next_token >= 0]
        if generating:
            self._decode_step(generating)

    # ---- evaluation -----------------------------------------------------------------------------

    def _decode(self, items: list[tuple[int, int, int]], *, last_only: bool) -> None:
        """``llama_decode`` of (token, position, sequence) items, with the logits of every item or
        (``last_only``) of the last one."""
        batch = self._batch
        batch.n_tokens = len(items)
        last = len(items) - 1
        for i, (token, pos, seq) in enumerate(items):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = not last_only or i == last
        code = llama_cpp.llama_decode(self._ctx, batch)
        if code != 0:
            raise UpstreamError(f"The local model failed to evaluate a batch (llama_decode returned {code}).")

    def _row(self, i: int) -> npt.NDArray[np.float32]:
        """Logits of output ``i`` of the last decode (a view: valid until the next one)."""
        pointer = llama_cpp.llama_get_logits_ith(self._ctx, i)
        return np.ctypeslib.as_array(pointer, shape=(self._engine.n_vocab,))

    def _prime_chunk(self, slot: _Slot) -> None:
        run = _running(slot)
        start = run.primed
        chunk = run.tokens[start : start + CHUNK]
        self._decode([(token, start + j, slot.seq) for j, token in enumerate(chunk)], last_only=True)
        run.primed += len(chunk)
        slot.cached = run.tokens[: run.primed]
        if run.primed == len(run.tokens):
            if run.gen.n > 1:
                run.prompt_logits = self._row(len(chunk) - 1).copy()
            self._start_choice(slot, len(chunk) - 1)

    def _decode_step(self, slots: list[_Slot]) -> None:
        runs = [_running(slot) for slot in slots]
        try:
            items = [(run.next_token, run.pos, slot.seq) for slot, run in zip(slots, runs, strict=True)]
            self._decode(items, last_only=False)
        except GatewayError as exc:
            for slot in slots:
                self._fail(slot, exc)
            return
        for i, (slot, run) in enumerate(zip(slots, runs, strict=True)):
            run.next_token = -1
            self._guarded(slot, self._next, i)

    # ---- choices --------------------------------------------------------------------------------

    def _start_choice(self, slot: _Slot, row: int | None) -> None:
        """Begin choice ``run.index``: its first token comes from output ``row`` of the last decode,
        or (``None``) from the saved prompt logits."""
        run, engine = _running(slot), self._engine
        seed = (run.base_seed + run.index) % _SEED_MODULUS
        run.chain = sampler_chain(run.gen, vocab=engine.vocab, n_vocab=engine.n_vocab, seed=seed, history=run.limit)
        run.text = TextStream(run.gen.stop)
        run.count = 0
        if run.gen.grammar is not None:
            run.closer = Closer(run.gen.grammar, limit=run.limit, tokenize=self._tokenize)
        if row is not None:
            self._accept(slot, self._sample(run, row), row)
        else:
            assert run.prompt_logits is not None
            self._accept(slot, self._rows.sample(run.chain, run.prompt_logits), run.prompt_logits)

    def _next(self, slot: _Slot, row: int) -> None:
        """The next token of ``slot``'s choice, from output ``row`` of the decode step (or the
        next token of its closing, which the sampler never sees)."""
        run = _running(slot)
        forced = run.closer.next_forced() if run.closer is not None else None
        self._accept(slot, self._sample(run, row) if forced is None else forced, row)

    def _tokenize(self, text: str) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _sample(self, run: _Run, row: int) -> int:
        return int(llama_cpp.llama_sampler_sample(run.chain, self._ctx, row))

    def _accept(self, slot: _Slot, token: int, row: int | npt.NDArray[np.float32]) -> None:
        """``token`` was sampled for ``slot`` from ``row`` (an output index, or saved logits)."""
        run, engine = _running(slot), self._engine
        run.count += 1
        if llama_cpp.llama_vocab_is_eog(engine.vocab, token):
            self._end_choice(slot, "stop")
            return
        closer = run.closer
        if closer is not None and not closer.keep(engine.piece(token), room=run.limit - run.count):
            run.text.drop_partial()  # the closing follows the last whole character
            forced = closer.next_forced()
            if forced is None:  # the text is already a whole value
                run.count -= 1
                self._end_choice(slot, "length")
                return
            token = forced
        entry = None
        if run.gen.logprobs:
            logits = self._row(row) if isinstance(row, int) else row
            entry = token_logprob(logits, token, top=run.gen.top_logprobs, piece=engine.piece)
        self._emit(run, *run.text.push(engine.piece(token), entry))
        if run.text.stopped:
            self._end_choice(slot, "stop")
        elif run.count >= run.limit or (closer is not None and closer.closing and closer.complete):
            self._end_choice(slot, "length")
        else:
            run.next_token = token

    def _emit(self, run: _Run, text: str, logprobs: tuple[TokenLogprob, ...]) -> None:
        if text or logprobs:
            run.job.post(TextChunk(run.index, text, logprobs))

    def _end_choice(self, slot: _Slot, reason: Literal["stop", "length"]) -> None:
        run = _running(slot)
        llama_cpp.llama_sampler_free(run.chain)
        run.chain = None
        self._emit(run, *run.text.finish())
        closed = reason == "length" and run.closer is not None and run.closer.complete
        run.job.post(ChoiceEnd(run.index, reason, run.count, stop_sequence=run.text.stopped, closed=closed))
        run.index += 1
        if run.index < run.gen.n and not run.job.cancelled.is_set():
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, len(run.tokens), -1)
            self._start_choice(slot, None)
        else:
            self._end(slot)

    # ---- leaving --------------------------------------------------------------------------------

    def _end(self, slot: _Slot) -> None:
        """The job is over (finished or cancelled): its prompt stays cached, the rest is dropped."""
        run = _running(slot)
        slot.run = None
        if run.chain is not None:
            llama_cpp.llama_sampler_free(run.chain)
            run.chain = None
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, len(slot.cached), -1)
        self._engine.job_done(run.job)

    def _forget(self, slot: _Slot) -> None:
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
        slot.cached = []

    def _fail(self, slot: _Slot, exc: GatewayError) -> None:
        """End ``slot``'s job with ``exc``; its cells are dropped (their content is uncertain)."""
        if slot.run is None:
            return
        slot.run.job.post(exc)
        self._forget(slot)
        self._end(slot)

    def _guarded(self, slot: _Slot, action: Callable[..., None], *args: Any) -> None:
        """``action(slot, *args)``, a failure of which ends this slot's job only."""
        try:
            action(slot, *args)
        except GatewayError as exc:
            self._fail(slot, exc)
        except Exception:
            logger.exception("local model generation failed")
            self._fail(slot, UpstreamError("The local model failed while generating."))


def _running(slot: _Slot) -> _Run:
    assert slot.run is not None
    return slot.run
