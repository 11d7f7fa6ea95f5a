"""The embedding capability: what a provider implements to serve ``POST /v1/embeddings``.

A provider declares it by having the ``Embedder`` methods (the embedded MiniLM, the
OpenAI-compatible adapter). ``embedder_of`` finds the capability behind what the registry built:
a provider that has it; a ``Router`` whose deployments have it (tried in order, moving on after a
retryable failure as chat does; no circuit breakers or fallbacks for embeddings yet); or an
unconfigured provider, whose embedder fails with the same 503 naming the missing setting.
Anything else (Anthropic, Gemini) has no embedder: the gateway answers 400.
"""

from __future__ import annotations

from collections.abc import Sequence

from unigate.catalog.spec import ModelSpec
from unigate.core.embedder import Embedder
from unigate.core.embeddings import EmbeddingRequest, EmbeddingResult
from unigate.core.provider import Provider
from unigate.errors import GatewayError
from unigate.providers.registry import UnconfiguredProvider
from unigate.providers.retry import retryable
from unigate.providers.router import Router

__all__ = ["embedder_of"]


class _Unconfigured:
    def __init__(self, provider: UnconfiguredProvider) -> None:
        self.name = provider.name
        self._provider = provider

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def check_embedding(self, request: EmbeddingRequest, model: ModelSpec) -> None:
        raise self._provider.error()

    def estimate_embedding_tokens(self, request: EmbeddingRequest, model: ModelSpec) -> int:
        return 0

    async def embed(self, request: EmbeddingRequest, model: ModelSpec) -> EmbeddingResult:
        raise self._provider.error()


class _Routed:
    """The embedders of a router's deployments, tried in order."""

    def __init__(self, name: str, deployments: Sequence[Embedder]) -> None:
        self.name = name
        self._deployments = deployments

    async def start(self) -> None:
        return None  # the router starts its deployments

    async def close(self) -> None:
        return None

    def check_embedding(self, request: EmbeddingRequest, model: ModelSpec) -> None:
        self._deployments[0].check_embedding(request, model)

    def estimate_embedding_tokens(self, request: EmbeddingRequest, model: ModelSpec) -> int:
        return self._deployments[0].estimate_embedding_tokens(request, model)

    async def embed(self, request: EmbeddingRequest, model: ModelSpec) -> EmbeddingResult:
        for i, deployment in enumerate(self._deployments):
            try:
                return await deployment.embed(request, model)
            except GatewayError as exc:
                if not retryable(exc) or i == len(self._deployments) - 1:
                    raise
        raise AssertionError("a router has at least one deployment")


def embedder_of(provider: Provider) -> Embedder | None:
    """The embedding capability of ``provider``, if it has one (see the module docstring)."""
    if isinstance(provider, Embedder):
        return provider
    if isinstance(provider, UnconfiguredProvider):
        return _Unconfigured(provider)
    if isinstance(provider, Router):
        embedders = [d.provider for d in provider.deployments if isinstance(d.provider, Embedder)]
        if len(embedders) == len(provider.deployments):
            return _Routed(provider.name, embedders)
    return None
