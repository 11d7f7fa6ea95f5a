"""``LocalEmbedder``: the embedded all-MiniLM-L6-v2 behind the ``Embedder`` protocol.

One worker thread runs the NumPy forward pass (``minilm.py``), one request at a time, each
request's inputs batched by length; NumPy releases the GIL in the matrix products, so the event
loop keeps serving meanwhile. Like the chat model, requests wait in a bounded queue: one more
than ``max_queue`` gets a 503 at once, one that waited ``max_wait_s`` gets a 503 instead of
running, and one cancelled while waiting never runs.

The weights (90 MB) load on the first request, in the worker, so that a gateway nobody asks for
embeddings does not pay for them; ``start`` only checks that the files are there.

``dimensions`` below 384 truncates the vector and renormalises it to unit length (what the
``Normalize`` step of sentence-transformers would give on the shorter vector); above 384 is a 400.
Inputs longer than 256 tokens are truncated, as sentence-transformers does for this model;
``usage.prompt_tokens`` counts the tokens actually embedded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from unigate.catalog.spec import ModelSpec
from unigate.core.embeddings import EmbeddingRequest, EmbeddingResult
from unigate.core.results import Usage
from unigate.errors import InvalidRequest, Overloaded, UpstreamError
from unigate.providers.embeddings.minilm import CLS, MAX_TOKENS, SEP, MiniLM, default_model_dir

__all__ = ["DIMENSIONS", "VOCAB_SIZE", "LocalEmbedder"]

DIMENSIONS = 384
VOCAB_SIZE = 30522


def _overloaded(message: str) -> Overloaded:
    return Overloaded(message, headers={"Retry-After": "1"})


class LocalEmbedder:
    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        max_queue: int = 64,
        max_wait_s: float = 30.0,
        batch_size: int = 32,
        name: str = "local-embeddings",
    ) -> None:
        self.name = name
        self._model_dir = model_dir
        self._max_queue = max_queue
        self._max_wait_s = max_wait_s
        self._batch_size = batch_size
        self._model: MiniLM | None = None
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._waiting = 0

    async def start(self) -> None:
        directory = self._model_dir or default_model_dir()
        for name in ("model.safetensors", "tokenizer.json", "config.json"):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"The embedding model has no {name} in {directory}")
        self._model_dir = directory
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="unigate-embed")

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        self._model = None

    def check_embedding(self, request: EmbeddingRequest, model: ModelSpec) -> None:
        if request.dimensions is not None and not 1 <= request.dimensions <= DIMENSIONS:
            raise InvalidRequest(f"dimensions must be from 1 to {DIMENSIONS} for {model.id!r}.", param="dimensions")
        for i, item in enumerate(request.inputs):
            if isinstance(item, tuple) and any(not 0 <= t < VOCAB_SIZE for t in item):
                raise InvalidRequest(
                    f"Token ids must be from 0 to {VOCAB_SIZE - 1} for {model.id!r}.", param=f"input[{i}]"
                )

    def estimate_embedding_tokens(self, request: EmbeddingRequest, model: ModelSpec) -> int:
        """WordPiece never makes more tokens than characters (after normalisation, which only
        drops accents), plus ``[CLS]`` and ``[SEP]``; and never more than ``MAX_TOKENS``."""
        return sum(min(len(item) + 2, MAX_TOKENS) for item in request.inputs)

    async def embed(self, request: EmbeddingRequest, model: ModelSpec) -> EmbeddingResult:
        executor = self._executor
        if executor is None:
            raise UpstreamError("The local embedding model is not running.")
        if self._waiting >= self._max_queue:
            raise _overloaded("The local embedding model is busy: its queue is full.")
        self._waiting += 1
        queued = time.monotonic()
        try:
            # Cancelling this await cancels the job if the worker has not taken it yet.
            vectors, tokens = await asyncio.get_running_loop().run_in_executor(
                executor, self._run, request.inputs, queued
            )
        finally:
            self._waiting -= 1
        if request.dimensions is not None and request.dimensions < vectors.shape[1]:
            vectors = vectors[:, : request.dimensions]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), np.float32(1e-12))
        return EmbeddingResult(model=model.id, vectors=vectors.astype(np.float32), usage=Usage(tokens, 0, tokens))

    def _run(self, inputs: tuple[str | tuple[int, ...], ...], queued: float) -> tuple[npt.NDArray[np.float32], int]:
        if time.monotonic() - queued > self._max_wait_s:
            raise _overloaded(
                f"The local embedding model is busy: waited more than {self._max_wait_s:g}s in its queue."
            )
        model = self._load()
        texts = [i for i in inputs if isinstance(i, str)]
        token_ids = iter(model.tokenize(texts)) if texts else iter(())
        ids: list[list[int]] = []
        for item in inputs:
            if isinstance(item, str):
                ids.append(next(token_ids))
            else:
                ids.append(_framed(item))
        vectors = model.encode_ids(ids, batch_size=self._batch_size)
        return vectors, sum(len(i) for i in ids)

    def _load(self) -> MiniLM:
        with self._load_lock:
            if self._model is None:
                assert self._model_dir is not None
                self._model = MiniLM(self._model_dir)
            return self._model


def _framed(ids: tuple[int, ...]) -> list[int]:
    """Token ids between ``[CLS]`` and ``[SEP]`` (added when the client left them out), truncated."""
    body = list(ids)
    if body and body[0] == CLS:
        body = body[1:]
    if body and body[-1] == SEP:
        body = body[:-1]
    return [CLS, *body[: MAX_TOKENS - 2], SEP]
