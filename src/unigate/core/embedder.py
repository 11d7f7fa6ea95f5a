"""The embedding capability: what a provider implements to serve ``POST /v1/embeddings``.

A provider says that it has it in its registration (``Modality.EMBEDDINGS``, with the object in
``Capabilities.embeddings``), never by being found to have these methods."""

from __future__ import annotations

from typing import Protocol

from unigate.catalog.spec import ModelSpec
from unigate.core.embeddings import EmbeddingRequest, EmbeddingResult

__all__ = ["Embedder"]


class Embedder(Protocol):
    """A source of embeddings. ``check_embedding`` runs before credits are reserved; ``embed``
    raises ``GatewayError`` subclasses; cancelling ``embed`` stops work not yet started."""

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def check_embedding(self, request: EmbeddingRequest, model: ModelSpec) -> None: ...

    def estimate_embedding_tokens(self, request: EmbeddingRequest, model: ModelSpec) -> int:
        """An upper bound on the input tokens, for the credit reservation."""
        ...

    async def embed(self, request: EmbeddingRequest, model: ModelSpec) -> EmbeddingResult: ...
