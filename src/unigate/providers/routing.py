"""The ``[routing]`` table, and the routes built from it over the providers' deployments.

::

    [routing]
    retries = 1                 # attempts after the first, beyond one per deployment and fallback
    backoff_base_s = 0.5        # before re-trying a deployment: 0.5 s, 1 s, 2 s ... with jitter
    backoff_max_s = 8.0         # also the longest upstream Retry-After worth waiting for
    breaker_failures = 5        # consecutive failures that open a deployment's circuit breaker
    breaker_cooldown_s = 30.0   # how long it stays open before one trial request

    [routing.fallbacks]         # requested model -> models to try when all its deployments fail
    "gpt-4o" = ["anthropic/claude-sonnet-4.5", "google/gemini-2.5-pro"]

Model names may be ids or aliases; an unknown one stops the server at start. A fallback model
whose provider is not configured here is left out (with a warning). Fallbacks may also name the
built-in models (``local``, ``fake``): their providers take part as single deployments.
See ``router.py`` for how a request walks its deployments and fallbacks, and how it is billed;
``registry.py`` builds every provider and hands the routed ones to ``Routing``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.embedder import Embedder
from unigate.core.embeddings import EmbeddingRequest, EmbeddingResult
from unigate.core.services import Capabilities
from unigate.errors import GatewayError
from unigate.providers.retry import RetryPolicy, retryable
from unigate.providers.router import Routes, Sleep

__all__ = ["RoutedEmbedder", "Routing", "RoutingConfig"]

log = logging.getLogger("unigate.routing")

_KEYS = {"retries", "backoff_base_s", "backoff_max_s", "breaker_failures", "breaker_cooldown_s", "fallbacks"}


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0
    fallbacks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Model names as written in the configuration; resolved against the catalog when built."""

    @staticmethod
    def from_table(table: Mapping[str, Any]) -> RoutingConfig:
        unknown = set(table) - _KEYS
        if unknown:
            raise ValueError(f"unknown [routing] settings: {', '.join(sorted(unknown))}")
        defaults = RetryPolicy()
        retry = RetryPolicy(
            retries=int(table.get("retries", defaults.retries)),
            backoff_base_s=float(table.get("backoff_base_s", defaults.backoff_base_s)),
            backoff_max_s=float(table.get("backoff_max_s", defaults.backoff_max_s)),
        )
        fallbacks = table.get("fallbacks", {})
        if not isinstance(fallbacks, Mapping) or not all(
            isinstance(v, list) and all(isinstance(m, str) for m in v) for v in fallbacks.values()
        ):
            raise ValueError("[routing] fallbacks must map model names to lists of model names")
        return RoutingConfig(
            retry=retry,
            breaker_failures=int(table.get("breaker_failures", 5)),
            breaker_cooldown_s=float(table.get("breaker_cooldown_s", 30.0)),
            fallbacks={str(k): tuple(v) for k, v in fallbacks.items()},
        )


def _resolved_fallbacks(
    config: RoutingConfig, resolve: Callable[[str], ModelSpec] | None
) -> dict[str, tuple[ModelSpec, ...]]:
    if not config.fallbacks:
        return {}
    if resolve is None:
        raise ValueError("[routing] fallbacks need the model catalog")
    out: dict[str, tuple[ModelSpec, ...]] = {}
    for name, targets in config.fallbacks.items():
        try:
            requested = resolve(name)
            out[requested.id] = tuple(resolve(t) for t in targets)
        except GatewayError as exc:  # ModelNotFound
            raise ValueError(f"[routing] fallbacks of {name!r}: {exc}") from exc
    return out


class Routing:
    """The routes of this gateway's providers: a ``Router`` in front of each routed provider's
    deployments, sharing the retry policy, the breakers' settings and the model fallbacks."""

    def __init__(
        self,
        config: RoutingConfig | Mapping[str, Any] | None = None,
        *,
        resolve: Callable[[str], ModelSpec] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """``resolve`` maps model names to specs (the catalog's ``resolve``), for the fallbacks."""
        config = config if isinstance(config, RoutingConfig) else RoutingConfig.from_table(config or {})
        self.routes = Routes(
            retry=config.retry,
            breaker_failures=config.breaker_failures,
            breaker_cooldown_s=config.breaker_cooldown_s,
            fallbacks=_resolved_fallbacks(config, resolve),
            sleep=sleep,
        )

    def route(self, name: str, deployments: Sequence[Capabilities]) -> Capabilities:
        """One provider's capabilities over its ``deployments`` (all built by its factory): chat
        through a ``Router``, embeddings through a ``RoutedEmbedder``; the media modalities by
        the first deployment's objects (not routed yet: a generated image or a speech stream
        retried on another deployment could be paid twice upstream)."""
        chats = [d.chat for d in deployments if d.chat is not None]
        embedders = [d.embeddings for d in deployments if d.embeddings is not None]
        # An adapter that serves both is started by the router; the embedder starts the others.
        routed = {id(c) for c in chats}
        own = [e for e in embedders if id(e) not in routed]
        first = deployments[0]
        return Capabilities(
            chat=self.routes.router(name, chats) if chats else None,
            embeddings=RoutedEmbedder(name, embedders, starts=own) if embedders else None,
            images=first.images,
            speech=first.speech,
            transcription=first.transcription,
            ocr=first.ocr,
        )

    def reach(self, name: str, capabilities: Capabilities) -> None:
        """Let fallbacks name a provider that is not routed (the local and fake models): it takes
        part as a single deployment."""
        if capabilities.chat is not None:
            self.routes.add(name, [capabilities.chat])

    def warn_unreachable(self) -> None:
        """Log the fallbacks whose provider is not configured here: they are skipped."""
        for requested, specs in self.routes.fallbacks.items():
            for spec in specs:
                if spec.provider not in self.routes.deployments:
                    log.warning("fallback %s of %s is not configured on this server: skipped", spec.id, requested)


class RoutedEmbedder:
    """The embedders of a provider's deployments, tried in order, moving on after a retryable
    failure as chat does (no circuit breakers or fallbacks for embeddings yet)."""

    def __init__(self, name: str, deployments: Sequence[Embedder], *, starts: Sequence[Embedder] = ()) -> None:
        """``starts``: the deployments no router starts (those that serve embeddings only)."""
        self.name = name
        self._deployments = deployments
        self._starts = starts

    async def start(self) -> None:
        for embedder in self._starts:
            await embedder.start()

    async def close(self) -> None:
        for embedder in self._starts:
            await embedder.close()

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
        raise AssertionError("a provider has at least one deployment")
