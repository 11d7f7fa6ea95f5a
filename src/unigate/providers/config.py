"""The settings of a provider reached over HTTP: where it lives, its key, its timeouts, its deployments.

Every such provider reads ``<NAME>_API_KEY`` and ``<NAME>_BASE_URL`` (the name upper-cased) from
the environment (``Settings.provider_env``), then an optional ``[providers.<name>]`` table of the
TOML config (the environment wins, as in ``settings``)::

    [providers.anthropic]
    base_url = "https://api.anthropic.com"
    connect_timeout_s = 10.0
    first_byte_timeout_s = 300.0
    total_timeout_s = 600.0

    [providers.my-vllm]                  # any other name: an OpenAI-compatible server
    kind = "openai"
    base_url = "http://10.0.0.5:8000/v1" # or MY_VLLM_BASE_URL
    api_key = "..."                      # or MY_VLLM_API_KEY (prefer the environment for keys)

Several *deployments* of one provider (more keys, regions, replicas of a self-hosted server) are
listed in its table; each entry takes ``base_url``, ``api_key`` or ``api_key_env`` (the variable
holding the key) and the timeouts, and inherits what it leaves out from the provider's own
settings, so ``{}`` is the provider's own key and URL. The router (``router.py``) tries them in
order. An entry whose key or URL is missing is skipped with a warning::

    [providers.openai]
    deployments = [{}, { api_key_env = "OPENAI_API_KEY_2" }, { base_url = "https://eu.example/v1" }]

A provider is *configured* when its key is set, or, for the self-hosted engines (``vllm``,
``sglang``, ``llamacpp``, ``ollama`` and custom tables), when its base URL is set. Which providers
exist, and the adapter each one's settings build, is the registry's (``registry.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = [
    "ProviderConfig",
    "ProviderInfo",
    "Timeouts",
    "deployments_of",
    "env_name",
    "provider_config",
]

log = logging.getLogger("unigate.providers")


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What a provider declares of its settings (``registry.py`` registers one per provider)."""

    name: str
    kind: str
    """The wire protocol its adapter speaks: ``openai`` (Chat Completions and compatibles),
    ``anthropic`` (Messages), ``gemini``; a ``[providers.*]`` table names one in ``kind``."""
    default_base_url: str | None
    """``None`` for self-hosted engines: ``<NAME>_BASE_URL`` must be set."""
    key_envs: tuple[str, ...] = ()
    """Accepted key variables, canonical first; empty means ``<NAME>_API_KEY``."""
    key_required: bool = True

    def key_settings(self) -> tuple[str, ...]:
        return self.key_envs or (f"{env_name(self.name)}_API_KEY",)


def env_name(provider: str) -> str:
    """``my-vllm`` -> ``MY_VLLM``: the prefix of a provider's environment variables."""
    return provider.upper().replace("-", "_").replace(".", "_")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request limits on one upstream call.

    ``first_byte_s`` bounds the wait for the response headers and then every gap between two
    chunks of a stream; a non-streamed answer arrives whole, so only ``total_s`` bounds it.
    ``total_s`` stays below the gateway's reservation TTL (900 s).
    """

    connect_s: float = 10.0
    first_byte_s: float = 300.0
    total_s: float = 600.0


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    info: ProviderInfo
    base_url: str | None
    api_key: str | None = field(default=None, repr=False)
    timeouts: Timeouts = field(default_factory=Timeouts)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.kind

    def missing_setting(self) -> str | None:
        """The first setting this provider still needs, or ``None`` when it is configured."""
        if not self.base_url:
            return f"{env_name(self.name)}_BASE_URL"
        if self.info.key_required and not self.api_key:
            return self.info.key_settings()[0]
        return None


_TIMEOUT_KEYS = {f"{f.name.removesuffix('_s')}_timeout_s" for f in fields(Timeouts)}
_TABLE_KEYS = {"kind", "base_url", "api_key", "deployments"} | _TIMEOUT_KEYS
_DEPLOYMENT_KEYS = {"base_url", "api_key", "api_key_env"} | _TIMEOUT_KEYS


def _timeouts(table: Mapping[str, Any], base: Timeouts | None = None) -> Timeouts:
    values = {f.name: float(table[key]) for f in fields(Timeouts) if (key := f"{f.name[:-2]}_timeout_s") in table}
    return replace(base or Timeouts(), **values)


def provider_config(info: ProviderInfo, env: Mapping[str, str], table: Mapping[str, Any]) -> ProviderConfig:
    """``info``'s provider as ``env`` (its variables) and its ``[providers.<name>]`` table set it."""
    unknown = set(table) - _TABLE_KEYS
    if unknown:
        raise ValueError(f"unknown [providers.{info.name}] settings: {', '.join(sorted(unknown))}")
    key = next((env[k] for k in info.key_settings() if env.get(k)), None) or table.get("api_key")
    base_url = env.get(f"{env_name(info.name)}_BASE_URL") or table.get("base_url") or info.default_base_url
    return ProviderConfig(info, base_url.rstrip("/") if base_url else None, key, _timeouts(table))


def _deployment(base: ProviderConfig, entry: Mapping[str, Any], env: Mapping[str, str], where: str) -> ProviderConfig:
    unknown = set(entry) - _DEPLOYMENT_KEYS
    if unknown:
        raise ValueError(f"unknown {where} settings: {', '.join(sorted(unknown))}")
    key = base.api_key
    if "api_key_env" in entry:
        key = env.get(str(entry["api_key_env"])) or None
    if "api_key" in entry:
        key = str(entry["api_key"])
    url = str(entry["base_url"]).rstrip("/") if entry.get("base_url") else base.base_url
    return ProviderConfig(base.info, url, key, _timeouts(entry, base.timeouts))


def deployments_of(base: ProviderConfig, env: Mapping[str, str], table: Mapping[str, Any]) -> list[ProviderConfig]:
    """The configured deployments of ``base``'s provider, in order; empty when it is not configured.

    Without a ``deployments`` list the provider is its own single deployment.
    """
    name = base.name
    entries = table.get("deployments")
    if entries is None:
        return [base] if base.missing_setting() is None else []
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ValueError(f"[providers.{name}] deployments must be a list of tables")
    out: list[ProviderConfig] = []
    for i, entry in enumerate(entries):
        config = _deployment(base, entry, env, f"[providers.{name}] deployments[{i}]")
        missing = config.missing_setting()
        if missing is not None:
            setting = entry.get("api_key_env", missing) if missing.endswith("_API_KEY") else missing
            log.warning("deployment %d of provider %s is skipped: %s is not set", i, name, setting)
            continue
        out.append(config)
    return out
