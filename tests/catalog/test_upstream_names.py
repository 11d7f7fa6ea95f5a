"""A model's upstream id names it when no id or alias takes the name and one served model has it
(``catalog.py``): the ids coding agents send by default reach the catalog's models."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.providers.emulators import model_spec
from unigate.catalog.catalog import Catalog
from unigate.catalog.loader import load_catalog
from unigate.errors import ModelNotFound


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("claude-sonnet-4-6", "anthropic/claude-sonnet-4.6"),  # Claude Code's --model sonnet
        ("claude-opus-4-6", "anthropic/claude-opus-4-6"),
        ("gpt-5.1-codex", "openai/gpt-5-1-codex"),  # Codex's model names
    ],
)
def test_the_agents_default_ids_resolve(name: str, model: str) -> None:
    assert Catalog(load_catalog()).resolve(name).id == model


def test_an_upstream_id_two_models_share_names_neither() -> None:
    a = model_spec("openai", "shared-1", id="a/shared")
    b = model_spec("together", "shared-1", id="b/shared")
    with pytest.raises(ModelNotFound):
        Catalog([a, b]).resolve("shared-1")


def test_an_id_or_alias_wins_over_an_upstream_id() -> None:
    a = model_spec("openai", "y-1", id="x-1")
    b = model_spec("other", "x-1", id="other/x-1")
    assert Catalog([a, b]).resolve("x-1") is a


def test_a_deprecated_models_upstream_id_names_nothing() -> None:
    old = replace(model_spec("openai", "old-1", id="vendor/old"), deprecated=True)
    with pytest.raises(ModelNotFound):
        Catalog([old]).resolve("old-1")
