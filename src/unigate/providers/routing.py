"""The ``[routing]`` table, and the routed remote providers built from it and the deployments.

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
See ``router.py`` for how a request walks its deployments and fallbacks, and how it is billed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.provider import Provider
from unigate.errors import GatewayError
from unigate.providers.config import load_deployments, load_provider_configs
from unigate.providers.registry import UnconfiguredProvider, build_provider
from unigate.providers.retry import RetryPolicy
from unigate.providers.router import Routes, Sleep

__all__ = ["RoutingConfig", "build_routed_providers"]

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


def build_routed_providers(
    env: Mapping[str, str] | None = None,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    routing: RoutingConfig | Mapping[str, Any] | None = None,
    resolve: Callable[[str], ModelSpec] | None = None,
    others: Mapping[str, Provider] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> dict[str, Provider]:
    """Every remote provider by name: a ``Router`` over its configured deployments, or the
    ``UnconfiguredProvider`` stand-in naming the missing setting (``registry.py``).

    ``resolve`` maps model names to specs (the catalog's ``resolve``), for the fallbacks.
    ``others`` are providers built elsewhere (the local and fake ones) that fallbacks may name;
    they are not in the result.
    """
    env = os.environ if env is None else env
    config = routing if isinstance(routing, RoutingConfig) else RoutingConfig.from_table(routing or {})
    routes = Routes(
        retry=config.retry,
        breaker_failures=config.breaker_failures,
        breaker_cooldown_s=config.breaker_cooldown_s,
        fallbacks=_resolved_fallbacks(config, resolve),
        sleep=sleep,
    )
    for name, provider in (others or {}).items():
        routes.add(name, [provider])
    out: dict[str, Provider] = {}
    bases = load_provider_configs(env, tables)
    for name, deployments in load_deployments(env, tables).items():
        if deployments:
            adapters = [build_provider(c) for c in deployments]
            out[name] = routes.router(name, adapters)
        elif bases[name].missing_setting() is None:  # a deployments list whose entries are all skipped
            out[name] = UnconfiguredProvider(name, f"a key or URL for a deployment of [providers.{name}]")
        else:
            out[name] = build_provider(bases[name])
    for requested, specs in routes.fallbacks.items():
        for spec in specs:
            if spec.provider not in routes.deployments:
                log.warning("fallback %s of %s is not configured on this server: skipped", spec.id, requested)
    return out
