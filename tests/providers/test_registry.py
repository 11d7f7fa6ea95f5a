"""Provider settings from the environment and ``[providers.*]`` tables, and what an unconfigured
provider answers."""

from __future__ import annotations

import pytest

from tests.providers.emulators import chat, model_spec
from unigate.errors import ProviderNotConfigured
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.config import KNOWN_PROVIDERS, load_provider_configs
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.registry import UnconfiguredProvider, build_remote_providers, missing_setting


def test_every_provider_of_the_issue_is_known_with_its_default_url() -> None:
    urls = {name: info.default_base_url for name, info in KNOWN_PROVIDERS.items()}
    assert urls["openai"] == "https://api.openai.com/v1"
    assert urls["anthropic"] == "https://api.anthropic.com"
    assert urls["gemini"] == "https://generativelanguage.googleapis.com"
    assert urls["alibaba"] == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert urls["cohere"] == "https://api.cohere.ai/compatibility/v1"
    assert {n for n, u in urls.items() if u is None} == {"vllm", "sglang", "llamacpp", "ollama"}
    assert len(urls) == 22


def test_missing_setting_names_the_variable() -> None:
    assert missing_setting("anthropic", env={}) == "ANTHROPIC_API_KEY"
    assert missing_setting("anthropic", env={"ANTHROPIC_API_KEY": "k"}) is None
    assert missing_setting("gemini", env={"GOOGLE_API_KEY": "k"}) is None  # the alternative name
    assert missing_setting("gemini", env={}) == "GEMINI_API_KEY"
    assert missing_setting("alibaba", env={"DASHSCOPE_API_KEY": "k"}) is None
    assert missing_setting("vllm", env={}) == "VLLM_BASE_URL"
    assert missing_setting("vllm", env={"VLLM_BASE_URL": "http://h:8000/v1"}) is None  # key optional
    with pytest.raises(KeyError):
        missing_setting("nope", env={})


def test_environment_wins_over_the_table_and_custom_servers_are_declared_by_table() -> None:
    configs = load_provider_configs(
        {"DEEPSEEK_API_KEY": "env-key", "DEEPSEEK_BASE_URL": "http://env/v1/", "MY_VLLM_API_KEY": "k2"},
        {
            "deepseek": {"api_key": "table-key", "base_url": "http://table/v1", "first_byte_timeout_s": 5},
            "my-vllm": {"base_url": "http://10.0.0.5:8000/v1"},
        },
    )
    deepseek = configs["deepseek"]
    assert (deepseek.api_key, deepseek.base_url) == ("env-key", "http://env/v1")
    assert deepseek.timeouts.first_byte_s == 5.0
    custom = configs["my-vllm"]
    assert (custom.kind, custom.base_url, custom.api_key, custom.missing_setting()) == (
        "openai",
        "http://10.0.0.5:8000/v1",
        "k2",
        None,
    )
    assert "k2" not in repr(custom)  # keys stay out of logs
    with pytest.raises(ValueError, match="unknown"):
        load_provider_configs({}, {"openai": {"api_kye": "typo"}})


def test_built_providers_use_the_adapter_of_their_protocol() -> None:
    env = {"OPENAI_API_KEY": "a", "ANTHROPIC_API_KEY": "b", "GOOGLE_API_KEY": "c", "OLLAMA_BASE_URL": "http://o/v1"}
    providers = build_remote_providers(env)
    assert isinstance(providers["openai"], OpenAICompatProvider)
    assert isinstance(providers["ollama"], OpenAICompatProvider)
    assert isinstance(providers["anthropic"], AnthropicProvider)
    assert isinstance(providers["gemini"], GeminiProvider)
    assert isinstance(providers["mistral"], UnconfiguredProvider)


async def test_an_unconfigured_provider_fails_at_check_with_503_naming_the_setting() -> None:
    provider = build_remote_providers({})["anthropic"]
    spec = model_spec("anthropic", "claude-sonnet-4-5")
    with pytest.raises(ProviderNotConfigured) as caught:
        provider.check(chat("hi"), spec)
    err = caught.value
    assert (err.status, err.code, err.param) == (503, "provider_not_configured", "model")
    assert "ANTHROPIC_API_KEY" in err.message
    with pytest.raises(ProviderNotConfigured):
        await provider.complete(chat("hi"), spec)
    with pytest.raises(ProviderNotConfigured):
        async for _ in provider.stream(chat("hi"), spec):
            pass
