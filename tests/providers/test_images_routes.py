"""The routes of the catalog's image models (``catalog/data/routes/images.toml``) and the
registrations behind them: every active image model has one route, to a registered provider
that serves images (or none, saying why), and the image providers build what they declare."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from unigate.core.services import Modality
from unigate.errors import ProviderNotConfigured
from unigate.providers.bfl import BflImages
from unigate.providers.dashscope import DashScopeImages
from unigate.providers.fal import INPUT_IMAGE_FIELDS, FalImages, FalSpeaker
from unigate.providers.gemini import GeminiProvider
from unigate.providers.gemini.images import GeminiImages
from unigate.providers.registry import REGISTRY, build_providers
from unigate.providers.router import Router
from unigate.providers.seedream import SeedreamImages
from unigate.providers.topaz import TopazImages
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, Settings

DATA = Path(__file__).resolve().parents[2] / "src" / "unigate" / "catalog" / "data"
ROUTES: dict[str, dict[str, Any]] = tomllib.loads((DATA / "routes" / "images.toml").read_text())
CATALOG = orjson.loads((DATA / "models.json").read_bytes())["models"]
ACTIVE = {m["id"] for m in CATALOG if m["type"] == "image" and not m["deprecated"]}
OURS = {"gemini", "alibaba", "bytedance", "fal", "bfl"}
"""The image providers of this change; openai, xai and together get their images elsewhere."""


def test_every_active_image_model_has_one_route_and_nothing_else_has_one() -> None:
    assert set(ROUTES) == ACTIVE
    assert len(ACTIVE) == 65


@pytest.mark.parametrize("model", sorted(ACTIVE))
def test_a_route_names_a_registered_image_provider_and_its_upstream_or_why_there_is_none(model: str) -> None:
    route = ROUTES[model]
    if route["provider"] == "":
        assert set(route) == {"provider", "unavailable"}
        assert route["unavailable"].endswith(".")
        assert len(route["unavailable"]) > 40
        return
    assert set(route) == {"provider", "upstream"}
    assert route["provider"] in REGISTRY
    assert route["upstream"].strip() == route["upstream"] != ""
    if route["provider"] in OURS:
        assert Modality.IMAGES in REGISTRY[route["provider"]].serves
    if route["provider"] == "fal":
        assert route["upstream"].split("/")[0] in {"fal-ai", "reve"}  # an owner, then the app
    if route["provider"] == "bfl":
        assert "/" not in route["upstream"]


def test_the_fal_apps_with_their_own_image_field_are_routed() -> None:
    routed = {r.get("upstream") for r in ROUTES.values() if r["provider"] == "fal"}
    assert set(INPUT_IMAGE_FIELDS) <= routed


def settings(env: dict[str, str]) -> Settings:
    off = Settings(local=LocalModelSettings(enabled=False), embeddings=EmbeddingModelSettings(enabled=False))
    return replace(off, provider_env=env)


def test_configured_image_providers_build_their_adapters() -> None:
    env = {
        "FAL_KEY": "f",
        "BFL_API_KEY": "b",
        "GEMINI_API_KEY": "g",
        "DASHSCOPE_API_KEY": "d",
        "BYTEDANCE_API_KEY": "s",
        "TOPAZ_API_KEY": "t",
    }
    _, services = build_providers(settings(env), models=[])
    assert isinstance(services.images("fal"), FalImages)
    assert isinstance(services.speaker("fal"), FalSpeaker)  # VibeVoice, on the same key
    assert isinstance(services.images("topaz"), TopazImages)
    assert isinstance(services.images("bfl"), BflImages)
    assert isinstance(services.images("alibaba"), DashScopeImages)
    assert isinstance(services.images("bytedance"), SeedreamImages)
    images = services.images("gemini")
    assert isinstance(images, GeminiImages)
    router = services["gemini"].capabilities.chat
    assert isinstance(router, Router)
    chat = router.deployments[0].provider
    assert isinstance(chat, GeminiProvider)
    assert images.upstream is chat.upstream  # started and closed by the chat adapter
    assert images.fetcher is chat.fetcher
    assert {"fal", "bfl"} <= services.serving(Modality.IMAGES)
    jobs = frozenset({Modality.VIDEO, Modality.MUSIC, Modality.THREE_D})  # generation jobs, on the same key
    assert services["fal"].serves == frozenset({Modality.IMAGES, Modality.SPEECH}) | jobs
    assert services["topaz"].serves == frozenset({Modality.IMAGES})


@pytest.mark.parametrize(("provider", "variable"), [("fal", "FAL_KEY"), ("bfl", "BFL_API_KEY")])
def test_an_unconfigured_image_provider_answers_503_naming_its_key(provider: str, variable: str) -> None:
    _, services = build_providers(settings({}), models=[])
    with pytest.raises(ProviderNotConfigured, match=variable):
        services.images(provider)


def test_fal_takes_either_of_its_documented_key_variables() -> None:
    _, services = build_providers(settings({"FAL_API_KEY": "f"}), models=[])
    fal = services.images("fal")
    assert isinstance(fal, FalImages)
    assert fal.config.api_key == "f"
    assert fal.config.base_url == "https://queue.fal.run"
