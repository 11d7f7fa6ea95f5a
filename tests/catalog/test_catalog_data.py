"""Invariants of the generated catalog and spot checks of the routing rules (overrides.toml)."""

from __future__ import annotations

import re

import pytest

from unigate.catalog import loader
from unigate.catalog.builtin import fake_spec, local_chat_spec
from unigate.catalog.catalog import Catalog
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec
from unigate.settings import LocalModelSettings

PROVIDERS = {
    "openai",
    "anthropic",
    "gemini",
    "deepseek",
    "xai",
    "mistral",
    "alibaba",
    "moonshot",
    "zhipu",
    "together",
    "groq",
    "fireworks",
    "openrouter",
    "perplexity",
    "minimax",
    "baidu",
    "bytedance",
    "cohere",
}
WIRE_PARAMS = {
    "web_search_options",
    "max_completion_tokens",
    "max_tokens",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "n",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "stop",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "response_format",
    "reasoning_effort",
}
TYPES = {"chat-completion", "image", "video", "stt", "tts", "voice-chat", "music", "ocr", "3d", "embedding"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(load_catalog())


def _chat(catalog: Catalog) -> list[ModelSpec]:
    return [s for s in catalog if s.type == "chat-completion" and not s.deprecated]


def test_builtin_models_do_not_collide_with_the_catalog() -> None:
    built_in = [local_chat_spec(LocalModelSettings()), fake_spec()]
    catalog = Catalog([*built_in, *load_catalog()])  # raises on any shared id or alias
    assert catalog.resolve("fake/echo").provider == "fake"


def test_every_spec_is_well_formed(catalog: Catalog) -> None:
    for spec in catalog:
        assert spec.type in TYPES, spec.id
        if spec.type in ("chat-completion", "embedding"):
            assert spec.provider in PROVIDERS | {""}, spec.id
        # Media routes name the media providers (routes/*.toml): test_media_routes.py walks them.
        assert bool(spec.provider) == bool(spec.upstream_model), spec.id
        assert spec.price_source in {"list", "estimate", "unpriced"}, spec.id
        assert spec.price.input_per_mtok >= 0
        assert spec.price.output_per_mtok >= 0
        assert spec.description, spec.id
        assert not re.search(r"\s[,.]", spec.description), spec.id
        assert spec.url.startswith("https://") or spec.url == "", spec.id
        if spec.deprecated:
            assert (spec.provider, spec.price_source) == ("", "unpriced"), spec.id
        if spec.type != "chat-completion":
            assert (spec.features, spec.params) == ((), frozenset()), spec.id


def test_chat_models_declare_wire_params_features_and_a_token_price(catalog: Catalog) -> None:
    for spec in _chat(catalog):
        assert {"max_completion_tokens", "max_tokens", "stream_options"} <= spec.params <= WIRE_PARAMS, spec.id
        assert "text" in spec.input_modalities
        assert spec.input_modalities <= {"text", "image", "file"}
        assert spec.features[0] == "openai/chat-completion"
        assert ("openai/chat-completion.function" in spec.features) == ("tools" in spec.params)
        assert ("openai/chat-completion.response-format" in spec.features) == ("response_format" in spec.params)
        assert spec.price_source in {"list", "estimate"}, spec.id
        assert spec.price.output_per_mtok > 0, spec.id
        assert spec.context_length, spec.id


@pytest.mark.parametrize(
    ("name", "provider", "upstream"),
    [
        ("anthropic/claude-sonnet-4.5", "anthropic", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("gpt-4o", "openai", "gpt-4o"),
        ("openai/gpt-5-1", "openai", "gpt-5.1"),
        ("google/gemini-2.5-pro", "gemini", "gemini-2.5-pro"),
        ("google/gemini-2.0-flash", "gemini", "gemini-2.0-flash"),
        ("deepseek/deepseek-chat", "deepseek", "deepseek-chat"),
        ("deepseek-reasoner", "deepseek", "deepseek-reasoner"),
        ("x-ai/grok-4-07-09", "xai", "grok-4-0709"),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("meta-llama/llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"),
        ("google/gemma-3-27b-it", "openrouter", "google/gemma-3-27b-it"),
        ("qwen-max", "alibaba", "qwen-max"),
        ("zhipu/glm-4.6", "zhipu", "glm-4.6"),
        ("text-embedding-3-large", "openai", "text-embedding-3-large"),
        ("text-embedding-3-small", "openai", "text-embedding-3-small"),
    ],
)
def test_routing(catalog: Catalog, name: str, provider: str, upstream: str) -> None:
    spec = catalog.resolve(name)
    assert (spec.provider, spec.upstream_model) == (provider, upstream)


def test_params_follow_the_schema_blocks(catalog: Catalog) -> None:
    """Spot checks against the seed survey's capability matrix (§2.4)."""
    assert "temperature" not in catalog.resolve("anthropic/claude-opus-4-7").params  # 41538-41882
    assert {"temperature", "top_k", "tools", "stop", "reasoning_effort"} <= catalog.resolve("claude-opus-4-5").params
    assert "tools" not in catalog.resolve("google/gemma-3-4b-it").params
    assert "tools" not in catalog.resolve("google/gemma-3-12b-it").params  # same page as the 4B
    assert "response_format" not in catalog.resolve("deepseek/deepseek-r1").params
    assert "n" in catalog.resolve("qwen-plus").params
    assert "n" not in catalog.resolve("qwen-turbo").params
    assert "logit_bias" in catalog.resolve("alibaba/qwen3.6-27b").params
    gemma = catalog.resolve("google/gemma-3-4b-it")
    assert "openai/chat-completion.message.system" not in gemma.features  # roles: user, assistant
    assert gemma.input_modalities == {"text", "image", "file"}
    assert catalog.resolve("cohere/command-a").input_modalities == {"text", "file"}
    assert "openai/chat-completion.message.developer" in catalog.resolve("deepseek-chat").features


def test_prices_are_integer_credits(catalog: Catalog) -> None:
    gpt4o = catalog.resolve("gpt-4o")
    assert (gpt4o.price.input_per_mtok, gpt4o.price.output_per_mtok) == (5_000_000, 20_000_000)  # $2.50 / $10
    assert gpt4o.price_source == "list"
    assert catalog.resolve("openai/gpt-5-5").price_source == "estimate"
    assert catalog.resolve("veo2").price_source == "unpriced"


def test_loading_shares_its_collections() -> None:
    # How long loading takes is the benchmark's (bench/speed.py times start-up), not a test's.
    specs = loader._load.__wrapped__()
    chat = [s for s in specs if s.type == "chat-completion" and not s.deprecated]
    # Specs share their collections: a handful of distinct feature tuples, not one per model.
    assert len({id(s.features) for s in chat}) < len(chat) // 4
