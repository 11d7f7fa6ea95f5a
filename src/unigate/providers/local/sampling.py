"""Turning one position's logits into the next token and its text: the llama.cpp sampler chain of
a request, sampling from a row of our choosing, logprobs, and the stop-sequence-aware text stream.

Nothing here touches a llama.cpp context: the batch worker (``batch.py``) decides which logits
row a choice samples from.
"""

from __future__ import annotations

import codecs
import ctypes
from collections.abc import Callable
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

from unigate.core.results import TokenLogprob, TopLogprob
from unigate.errors import UpstreamError
from unigate.providers.local.jobs import Generation

__all__ = ["RowSampler", "TextStream", "sampler_chain", "token_logprob"]

Piece = Callable[[int], bytes]


def sampler_chain(gen: Generation, *, vocab: Any, n_vocab: int, seed: int, history: int) -> Any:
    """A new llama.cpp sampler chain for one choice of ``gen`` (free it with ``llama_sampler_free``)."""
    s = gen.sampler
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    try:
        if s.logit_bias:
            biases = (llama_cpp.llama_logit_bias * len(s.logit_bias))(
                *(llama_cpp.llama_logit_bias(token, bias) for token, bias in s.logit_bias)
            )
            _add(chain, llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(s.logit_bias), biases))
        if (s.repeat_penalty, s.frequency_penalty, s.presence_penalty) != (1.0, 0.0, 0.0):
            _add(
                chain,
                llama_cpp.llama_sampler_init_penalties(
                    n_vocab, max(history, 1), s.repeat_penalty, s.frequency_penalty, s.presence_penalty
                ),
            )
        if gen.grammar is not None:
            grammar = llama_cpp.llama_sampler_init_grammar(vocab, gen.grammar.encode(), b"root")
            if not grammar:
                raise UpstreamError("The local model could not compile the output grammar.")
            _add(chain, grammar)
        if s.temperature <= 0:
            _add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            if s.top_k > 0:
                _add(chain, llama_cpp.llama_sampler_init_top_k(s.top_k))
            if s.top_p < 1.0:
                _add(chain, llama_cpp.llama_sampler_init_top_p(s.top_p, 1))
            if s.min_p > 0.0:
                _add(chain, llama_cpp.llama_sampler_init_min_p(s.min_p, 1))
            _add(chain, llama_cpp.llama_sampler_init_temp(s.temperature))
            _add(chain, llama_cpp.llama_sampler_init_dist(seed))
    except BaseException:
        llama_cpp.llama_sampler_free(chain)
        raise
    return chain


def _add(chain: Any, sampler: Any) -> None:
    llama_cpp.llama_sampler_chain_add(chain, sampler)


class RowSampler:
    """``llama_sampler_sample`` over a logits row of our choosing (llama.cpp's own only reads the
    context's current logits). One per worker thread: it reuses its candidate buffer."""

    def __init__(self, n_vocab: int) -> None:
        self.candidates = (llama_cpp.llama_token_data * n_vocab)()
        self.candidate_view = np.ctypeslib.as_array(self.candidates)
        self.token_ids = np.arange(n_vocab, dtype=np.intc)

    def sample(self, chain: Any, logits: npt.NDArray[np.float32]) -> int:
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


def token_logprob(logits: npt.NDArray[np.float32], token: int, *, top: int, piece: Piece) -> TokenLogprob:
    """Log-softmax of the raw logits that produced ``token`` (before penalties or grammar), with
    the ``top`` most likely tokens."""
    shifted = logits.astype(np.float64) - float(logits.max())
    log_total = float(np.log(np.exp(shifted).sum()))
    best_entries: tuple[TopLogprob, ...] = ()
    k = min(top, len(logits))
    if k > 0:
        best = np.argpartition(-shifted, k - 1)[:k]
        best = best[np.argsort(-shifted[best], kind="stable")]
        best_entries = tuple(_top(piece(int(t)), float(shifted[t]) - log_total) for t in best)
    data = piece(token)
    return TokenLogprob(
        token=data.decode("utf-8", "replace"),
        logprob=float(shifted[token]) - log_total,
        bytes=tuple(data),
        top_logprobs=best_entries,
    )


def _top(data: bytes, logprob: float) -> TopLogprob:
    return TopLogprob(token=data.decode("utf-8", "replace"), logprob=logprob, bytes=tuple(data))


class TextStream:
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
        self.stopped: str | None = None
        """The stop sequence the text was cut at, once one matched."""

    def push(self, data: bytes, logprob: TokenLogprob | None) -> tuple[str, tuple[TokenLogprob, ...]]:
        if logprob is not None:
            self._logprobs.append((self._offset + len(self._pending), logprob))
        self._pending += self._decoder.decode(data)
        return self._scan(final=False)

    def drop_partial(self) -> None:
        """Forget the bytes of a character not yet whole (the output will not finish it)."""
        self._decoder.reset()

    def finish(self) -> tuple[str, tuple[TokenLogprob, ...]]:
        """Flush what is held once generation ended without a stop sequence."""
        if self.stopped:
            return "", ()
        self._pending += self._decoder.decode(b"", final=True)
        return self._scan(final=True)

    def _scan(self, *, final: bool) -> tuple[str, tuple[TokenLogprob, ...]]:
        hits = [(i, stop) for stop in self._stops if (i := self._pending.find(stop)) >= 0]
        if hits:
            at, self.stopped = min(hits, key=lambda hit: hit[0])  # the earliest; a tie goes to the first given
            return self._release(at, drop_rest=True)
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
