"""The remote providers this server runs, built from their configuration.

``build_remote_providers`` returns one provider per known (or ``[providers.*]``-declared) name:
the adapter for its wire protocol when it is configured, else an ``UnconfiguredProvider`` whose
``check`` fails at once with ``ProviderNotConfigured`` (503) naming the missing setting, before
any credit is reserved. So a catalog may list every model; only configured ones answer.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest
from unigate.core.provider import Provider
from unigate.core.results import ChatResult, StreamEvent
from unigate.errors import ProviderNotConfigured
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.config import ProviderConfig, load_provider_configs
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider

__all__ = ["UnconfiguredProvider", "build_provider", "build_remote_providers", "missing_setting"]


class UnconfiguredProvider:
    """Stands in for a provider that lacks its key or URL; every call says which."""

    def __init__(self, name: str, setting: str) -> None:
        self.name = name
        self.setting = setting

    def error(self) -> ProviderNotConfigured:
        return ProviderNotConfigured(
            f"The provider {self.name!r} of this model is not configured on this server: set {self.setting}.",
            param="model",
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        raise self.error()

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return 0

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        raise self.error()

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        raise self.error()
        yield  # pragma: no cover - makes this an async generator like the others


def build_provider(config: ProviderConfig) -> Provider:
    """The adapter for ``config``'s protocol, or its stand-in if a setting is missing."""
    missing = config.missing_setting()
    if missing is not None:
        return UnconfiguredProvider(config.name, missing)
    if config.kind == "anthropic":
        return AnthropicProvider(config)
    if config.kind == "gemini":
        return GeminiProvider(config)
    return OpenAICompatProvider(config)


def build_remote_providers(
    env: Mapping[str, str] | None = None,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Provider]:
    """Every remote provider by name (``env`` defaults to ``os.environ``)."""
    configs = load_provider_configs(os.environ if env is None else env, tables)
    return {name: build_provider(c) for name, c in configs.items()}


def missing_setting(
    name: str, env: Mapping[str, str] | None = None, tables: Mapping[str, Mapping[str, Any]] | None = None
) -> str | None:
    """The setting provider ``name`` still needs (``ANTHROPIC_API_KEY``), ``None`` if configured.

    Raises ``KeyError`` for a name that is neither built in nor declared in ``[providers.*]``.
    """
    return load_provider_configs(os.environ if env is None else env, tables)[name].missing_setting()
