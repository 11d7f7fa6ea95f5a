"""Which remote providers exist, where they live, and which of them this server can call.

Every provider reads ``<NAME>_API_KEY`` and ``<NAME>_BASE_URL`` (the name upper-cased) from the
environment, then an optional ``[providers.<name>]`` table of the TOML config (the environment
wins, as in ``settings.py``)::

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
``sglang``, ``llamacpp``, ``ollama`` and custom tables), when its base URL is set. A model whose
provider is not configured fails at once with ``ProviderNotConfigured`` naming the missing setting.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

__all__ = [
    "KNOWN_PROVIDERS",
    "ProviderConfig",
    "ProviderInfo",
    "ProviderKind",
    "Timeouts",
    "env_name",
    "load_deployments",
    "load_provider_configs",
]

log = logging.getLogger("unigate.providers")

ProviderKind = Literal["openai", "anthropic", "gemini"]
"""The wire protocol: OpenAI Chat Completions (and compatibles), Anthropic Messages, Gemini."""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    kind: ProviderKind
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


def _info(name: str, url: str | None, kind: ProviderKind = "openai", *keys: str) -> ProviderInfo:
    return ProviderInfo(name, kind, url, keys, key_required=url is not None)


KNOWN_PROVIDERS: dict[str, ProviderInfo] = {
    p.name: p
    for p in (
        _info("openai", "https://api.openai.com/v1"),
        _info("anthropic", "https://api.anthropic.com", "anthropic"),
        _info("gemini", "https://generativelanguage.googleapis.com", "gemini", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
        _info("deepseek", "https://api.deepseek.com/v1"),
        _info("xai", "https://api.x.ai/v1"),
        _info("mistral", "https://api.mistral.ai/v1"),
        _info(
            "alibaba",
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            "openai",
            "ALIBABA_API_KEY",
            "DASHSCOPE_API_KEY",
        ),
        _info("moonshot", "https://api.moonshot.ai/v1"),
        _info("zhipu", "https://open.bigmodel.cn/api/paas/v4"),
        _info("together", "https://api.together.xyz/v1"),
        _info("groq", "https://api.groq.com/openai/v1"),
        _info("fireworks", "https://api.fireworks.ai/inference/v1"),
        _info("openrouter", "https://openrouter.ai/api/v1"),
        _info("perplexity", "https://api.perplexity.ai"),
        _info("minimax", "https://api.minimax.io/v1"),
        _info("baidu", "https://qianfan.baidubce.com/v2"),
        _info("bytedance", "https://ark.ap-southeast.bytepluses.com/api/v3"),
        _info("cohere", "https://api.cohere.ai/compatibility/v1"),
        _info("vllm", None),
        _info("sglang", None),
        _info("llamacpp", None),
        _info("ollama", None),
    )
}
"""The built-in providers; models name them in ``ModelSpec.provider``."""


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
    def kind(self) -> ProviderKind:
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


def _custom_info(name: str, table: Mapping[str, Any]) -> ProviderInfo:
    kind = table.get("kind", "openai")
    if kind not in ("openai", "anthropic", "gemini"):
        raise ValueError(f"[providers.{name}] kind must be openai, anthropic or gemini, not {kind!r}")
    return ProviderInfo(name, kind, None, key_required=False)


def load_provider_configs(
    env: Mapping[str, str], tables: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, ProviderConfig]:
    """Every known provider and every ``[providers.<name>]`` table, configured or not."""
    tables = tables or {}
    configs: dict[str, ProviderConfig] = {}
    for name in [*KNOWN_PROVIDERS, *(n for n in tables if n not in KNOWN_PROVIDERS)]:
        table = tables.get(name, {})
        unknown = set(table) - _TABLE_KEYS
        if unknown:
            raise ValueError(f"unknown [providers.{name}] settings: {', '.join(sorted(unknown))}")
        info = KNOWN_PROVIDERS.get(name) or _custom_info(name, table)
        prefix = env_name(name)
        key = next((env[k] for k in info.key_settings() if env.get(k)), None) or table.get("api_key")
        base_url = env.get(f"{prefix}_BASE_URL") or table.get("base_url") or info.default_base_url
        configs[name] = ProviderConfig(info, base_url.rstrip("/") if base_url else None, key, _timeouts(table))
    return configs


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


def load_deployments(
    env: Mapping[str, str], tables: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, list[ProviderConfig]]:
    """Every provider's configured deployments, in order; an empty list for an unconfigured one.

    Without a ``deployments`` list the provider is its own single deployment.
    """
    tables = tables or {}
    out: dict[str, list[ProviderConfig]] = {}
    for name, base in load_provider_configs(env, tables).items():
        entries = tables.get(name, {}).get("deployments")
        if entries is None:
            out[name] = [base] if base.missing_setting() is None else []
            continue
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            raise ValueError(f"[providers.{name}] deployments must be a list of tables")
        out[name] = []
        for i, entry in enumerate(entries):
            config = _deployment(base, entry, env, f"[providers.{name}] deployments[{i}]")
            missing = config.missing_setting()
            if missing is not None:
                setting = entry.get("api_key_env", missing) if missing.endswith("_API_KEY") else missing
                log.warning("deployment %d of provider %s is skipped: %s is not set", i, name, setting)
                continue
            out[name].append(config)
    return out
