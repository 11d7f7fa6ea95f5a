"""Operator-defined and re-routed models from the settings file's ``[models.*]`` tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate.catalog.builtin import CHAT_PARAMS
from unigate.catalog.catalog import Catalog
from unigate.catalog.configured import apply_model_tables
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import Price
from unigate.settings import load_settings


def test_tables_from_the_settings_file_add_and_reroute_models(tmp_path: Path) -> None:
    config = tmp_path / "unigate.toml"
    config.write_text(
        '[models."my-llama"]\nprovider = "vllm"\nupstream_model = "meta-llama/Llama-3.1-8B-Instruct"\n'
        'input_price_per_mtok = 100\noutput_price_per_mtok = 300\naliases = ["llama-local"]\n'
        '[models."gpt-4o"]\nprovider = "openrouter"\nupstream_model = "openai/gpt-4o"\n'
    )
    settings = load_settings(config, env={})
    base = load_catalog()
    catalog = Catalog(apply_model_tables(base, settings.models))

    mine = catalog.resolve("llama-local")
    assert (mine.id, mine.provider, mine.upstream_model) == ("my-llama", "vllm", "meta-llama/Llama-3.1-8B-Instruct")
    assert mine.price == Price(100, 300)
    assert mine.params == CHAT_PARAMS

    before = next(s for s in base if s.id == "gpt-4o")
    after = catalog.resolve("gpt-4o")
    assert (after.provider, after.upstream_model) == ("openrouter", "openai/gpt-4o")
    assert after.price == before.price  # untouched fields keep the catalog's values
    assert len(catalog) == len(base) + 1


def test_unknown_setting_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown settings in"):
        apply_model_tables([], {"m": {"provider": "vllm", "colour": "red"}})


def test_new_model_needs_a_provider() -> None:
    with pytest.raises(ValueError, match="needs a provider"):
        apply_model_tables([], {"m": {"upstream_model": "x"}})


def test_prices_must_be_whole_credits() -> None:
    with pytest.raises(ValueError, match="whole number"):
        apply_model_tables([], {"m": {"provider": "vllm", "input_price_per_mtok": 0.5}})


def test_the_responses_api_is_named_per_model_and_dropped_with_its_provider() -> None:
    base = load_catalog()
    tables = {
        "openai/gpt-5-2-pro": {"provider": "openrouter", "upstream_model": "openai/gpt-5.2-pro"},
        "openai/gpt-5-1-codex": {"upstream_model": "gpt-5.1-codex-2025"},
        "my-vllm": {"provider": "vllm", "upstream_api": "responses"},
    }
    catalog = Catalog(apply_model_tables(base, tables))
    assert catalog.resolve("openai/gpt-5-2-pro").upstream_api == ""  # OpenRouter's default API
    assert catalog.resolve("openai/gpt-5-1-codex").upstream_api == "responses"  # same provider: kept
    assert catalog.resolve("my-vllm").upstream_api == "responses"
    with pytest.raises(ValueError, match="upstream_api must be one of"):
        apply_model_tables([], {"m": {"provider": "vllm", "upstream_api": "assistants"}})
