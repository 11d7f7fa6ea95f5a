"""The catalog's search models (survey §4.9): exactly the chat models whose upstream searches the
web declare ``web_search_options`` (which also stands for the ``$web_search`` tool) and show the
``openai/chat-completion.web-search`` feature in ``/models``."""

from __future__ import annotations

from unigate.catalog.catalog import Catalog
from unigate.catalog.loader import load_catalog

SEARCH_MODELS = {
    "gpt-4o-search-preview",
    "gpt-4o-mini-search-preview",
    "perplexity/sonar",
    "perplexity/sonar-pro",
    "moonshot/kimi-k2-preview",
    "moonshot/kimi-k2-0905-preview",
    "moonshot/kimi-k2-turbo-preview",
    "moonshot/kimi-k2-5",
    "moonshot/kimi-k2-6",
}


def _catalog() -> Catalog:
    return Catalog(load_catalog())


def test_the_search_models_and_only_they_declare_search() -> None:
    catalog = _catalog()
    declared = {s.id for s in catalog if "web_search_options" in s.params}
    assert declared == SEARCH_MODELS
    for spec in catalog:
        assert ("openai/chat-completion.web-search" in spec.features) == (spec.id in SEARCH_MODELS), spec.id


def test_openai_search_models_accept_the_seeds_temperature() -> None:
    for model_id in ("gpt-4o-search-preview", "gpt-4o-mini-search-preview"):
        params = _catalog().resolve(model_id).params
        assert "temperature" in params  # the seeds' example sends it; it is not forwarded
        assert not {"tools", "top_p", "frequency_penalty", "presence_penalty"} & params
