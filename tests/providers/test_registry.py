"""The provider registry: provider settings from the environment (through ``Settings``) and the
``[providers.*]`` tables, what each registration builds, and what an unconfigured provider answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.providers.emulators import model_spec
from unigate.catalog.builtin import FAKE_MODEL_ID, LOCAL_CHAT_MODEL_ID
from unigate.core.embeddings import EmbeddingRequest
from unigate.core.services import Capabilities, Modality, Service
from unigate.errors import ProviderNotConfigured
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.fake import FakeProvider
from unigate.providers.fake_jobs import FakeJobs
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.registration import Upstream, upstream
from unigate.providers.registry import (
    REGISTRY,
    build_providers,
    known_providers,
    load_provider_configs,
    missing_setting,
    register,
)
from unigate.providers.router import Router
from unigate.providers.transport.h1 import H1Transport
from unigate.providers.transport.proxy import ProxyTransport
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, LocalSpeechSettings, Settings, load_settings

MODELS = [model_spec("anthropic", "claude-sonnet-4-5"), model_spec("openai", "gpt-4o")]


def settings(**changes: Any) -> Settings:
    off = Settings(local=LocalModelSettings(enabled=False), embeddings=EmbeddingModelSettings(enabled=False))
    return replace(off, speech=LocalSpeechSettings(enabled=False), **changes)


def adapter(services: Any, name: str) -> object:
    """The adapter of a routed provider's first deployment."""
    router = services[name].capabilities.chat
    assert isinstance(router, Router)
    return router.deployments[0].provider


def test_every_provider_of_the_issue_is_known_with_its_default_url() -> None:
    urls = {name: info.default_base_url for name, info in known_providers().items()}
    assert urls["openai"] == "https://api.openai.com/v1"
    assert urls["anthropic"] == "https://api.anthropic.com"
    assert urls["gemini"] == "https://generativelanguage.googleapis.com"
    assert urls["alibaba"] == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert urls["cohere"] == "https://api.cohere.ai/compatibility/v1"
    assert {n for n, u in urls.items() if u is None} == {"vllm", "sglang", "llamacpp", "ollama"}
    assert urls["fal"] == "https://queue.fal.run"
    assert urls["bfl"] == "https://api.bfl.ai"
    assert urls["topaz"] == "https://api.topazlabs.com/image/v1"
    assert urls["deepgram"] == "https://api.deepgram.com"  # the speech providers (speech_upstreams.py)
    assert urls["assemblyai"] == "https://api.assemblyai.com"
    assert urls["pixverse"] == "https://app-api.pixverse.ai"  # generation jobs (generation_upstreams.py)
    assert urls["stability"] == "https://api.stability.ai"
    assert urls["kling"] == "https://api-singapore.klingai.com"  # the job runners (task_upstreams.py)
    assert len(urls) == 35
    assert {"local", "fake", "local-embeddings"} <= set(REGISTRY)  # registered like the others


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
    kinds = (
        "openai, anthropic, gemini, fal, topaz, bfl, deepgram, elevenlabs, assemblyai, hume, inworld, "
        "kling, runway, luma, pixverse or stability"
    )
    with pytest.raises(ValueError, match=f"kind must be {kinds}"):
        load_provider_configs({}, {"mine": {"kind": "soap"}})
    with pytest.raises(ValueError, match="runs inside the gateway"):
        load_provider_configs({}, {"local": {"base_url": "http://h/v1"}})


def test_settings_gather_the_variables_providers_read(tmp_path: Path) -> None:
    env = {
        "OPENAI_API_KEY": "a",
        "GOOGLE_API_KEY": "g",
        "VLLM_BASE_URL": "http://v/v1",
        "SPARE_KEY": "s",
        "HOME": "/root",
    }
    loaded = load_settings(env=env)
    assert loaded.provider_env == {"OPENAI_API_KEY": "a", "GOOGLE_API_KEY": "g", "VLLM_BASE_URL": "http://v/v1"}
    assert "'a'" not in repr(loaded)  # keys stay out of logs
    config = tmp_path / "unigate.toml"
    config.write_text('[providers.openai]\ndeployments = [{}, { api_key_env = "SPARE_KEY" }]\n')
    with_spare = load_settings(config, env=env)
    assert with_spare.provider_env["SPARE_KEY"] == "s"  # named by a deployment
    assert "HOME" not in with_spare.provider_env
    _, services = build_providers(replace(settings(), **_providers_of(with_spare)), models=MODELS)
    router = services["openai"].capabilities.chat
    assert isinstance(router, Router)
    assert len(router.deployments) == 2


def _providers_of(loaded: Settings) -> dict[str, Any]:
    return {"providers": loaded.providers, "provider_env": loaded.provider_env}


def test_built_providers_use_the_adapter_of_their_protocol() -> None:
    env = {"OPENAI_API_KEY": "a", "ANTHROPIC_API_KEY": "b", "GOOGLE_API_KEY": "c", "OLLAMA_BASE_URL": "http://o/v1"}
    tables = {"mine": {"kind": "anthropic", "base_url": "http://mine"}}
    _, services = build_providers(settings(provider_env=env, providers=tables), models=MODELS)
    assert isinstance(adapter(services, "openai"), OpenAICompatProvider)
    assert isinstance(adapter(services, "ollama"), OpenAICompatProvider)
    assert isinstance(adapter(services, "anthropic"), AnthropicProvider)
    assert isinstance(adapter(services, "gemini"), GeminiProvider)
    assert isinstance(adapter(services, "mine"), AnthropicProvider)  # built like the first of its kind
    assert services["mine"].serves == {Modality.CHAT}
    assert services["mistral"].missing == "MISTRAL_API_KEY"
    assert services.serving(Modality.CHAT) == {"openai", "ollama", "anthropic", "gemini", "mine"}
    assert services.serving(Modality.EMBEDDINGS) == {"openai", "ollama"}
    assert services.embedder("anthropic") is None  # declares no embeddings: the gateway answers 400


async def test_an_unconfigured_provider_answers_503_naming_the_setting_for_each_modality() -> None:
    _, services = build_providers(settings(), models=MODELS)
    with pytest.raises(ProviderNotConfigured) as caught:
        services.chat("anthropic")
    err = caught.value
    assert (err.status, err.code, err.param) == (503, "provider_not_configured", "model")
    assert "ANTHROPIC_API_KEY" in err.message
    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        services.chat("openai")
    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        services.embedder("openai")
    assert services.chat("nope") is None
    assert services.running() == []  # nothing to start


def test_the_embedded_and_fake_models_register_like_the_others() -> None:
    models, services = build_providers(settings(fake_models=True, fake_token_delay_s=0.5))
    assert "local" not in services  # switched off: not offered at all
    fake = services.chat("fake")
    assert isinstance(fake, FakeProvider)
    assert fake.token_delay_s == 0.5
    ids = [m.id for m in models]
    assert FAKE_MODEL_ID in ids
    assert LOCAL_CHAT_MODEL_ID not in ids
    assert len(ids) > 500  # and the catalog's
    models, services = build_providers(settings(local=LocalModelSettings()))
    assert LOCAL_CHAT_MODEL_ID in [m.id for m in models]
    assert services["local"].serves == {Modality.CHAT}


@pytest.fixture
def acme() -> Iterator[None]:
    """A hypothetical provider: an adapter and one registration."""

    def factory(u: Upstream) -> Capabilities:
        return Capabilities(embeddings=_AcmeEmbedder(u.config.api_key or ""), video=FakeJobs())

    register(upstream("acme", "https://api.acme.test/v1", factory, kind="acme", serves=_EMBEDS))
    yield
    del REGISTRY["acme"]


_EMBEDS = frozenset({Modality.EMBEDDINGS, Modality.VIDEO})


class _AcmeEmbedder:
    name = "acme"

    def __init__(self, key: str) -> None:
        self.key = key

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def check_embedding(self, request: EmbeddingRequest, model: Any) -> None:
        return None

    def estimate_embedding_tokens(self, request: EmbeddingRequest, model: Any) -> int:
        return 0

    async def embed(self, request: EmbeddingRequest, model: Any) -> Any:
        raise NotImplementedError


@pytest.mark.usefixtures("acme")
def test_adding_a_provider_is_one_registration() -> None:
    assert missing_setting("acme", env={}) == "ACME_API_KEY"
    _, services = build_providers(settings(provider_env={"ACME_API_KEY": "k"}), models=MODELS)
    assert services["acme"].serves == {Modality.EMBEDDINGS, Modality.VIDEO}
    assert services.jobs("acme", Modality.VIDEO) is services["acme"].capabilities.video
    assert services.chat("acme") is None
    embedder = services.embedder("acme")
    assert embedder is not None
    assert services["acme"].capabilities.embeddings in services.running()
    with pytest.raises(ProviderNotConfigured, match="ACME_API_KEY"):
        build_providers(settings(), models=MODELS)[1].embedder("acme")


def test_a_provider_must_build_what_it_declares() -> None:
    with pytest.raises(ValueError, match="declares chat"):
        Service("broken", frozenset({Modality.CHAT}), Capabilities())
    with pytest.raises(ValueError, match="declares video"):
        Service("broken", frozenset({Modality.VIDEO}), Capabilities())
    Service("unconfigured", frozenset({Modality.CHAT}), missing="BROKEN_API_KEY")  # nothing to build


def test_built_adapters_take_the_transport_the_settings_choose() -> None:
    """``UNIGATE_UPSTREAM_TRANSPORT`` and the proxy variables reach every adapter the registry
    builds, through ``load_settings`` alone (nothing below it reads the environment)."""
    env = {"OPENAI_API_KEY": "k", "GEMINI_API_KEY": "k", "HTTPS_PROXY": "http://proxy.test:3128"}
    proxied = load_settings(env={**env, "UNIGATE_FETCH_VIA_PROXY": "1"})
    _, services = build_providers(proxied, models=MODELS)
    openai, gemini = adapter(services, "openai"), adapter(services, "gemini")
    assert isinstance(openai, OpenAICompatProvider)
    assert isinstance(gemini, GeminiProvider)
    assert isinstance(openai.upstream.transport, ProxyTransport)
    assert openai.upstream.transport.proxies.https == "http://proxy.test:3128"
    assert gemini.fetcher.proxies is not None
    direct = load_settings(env={**env, "UNIGATE_UPSTREAM_TRANSPORT": "h1"})
    _, services = build_providers(direct, models=MODELS)
    assert isinstance(adapter(services, "openai").upstream.transport, H1Transport)  # type: ignore[attr-defined]
    assert adapter(services, "gemini").fetcher.proxies is None  # type: ignore[attr-defined]
