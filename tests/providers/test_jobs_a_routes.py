"""The routes of ``catalog/data/routes/jobs_a.toml`` (Sora, Veo, Wan, HappyHorse, Seedance,
OmniHuman) and the registrations behind them: each names a catalog video model and a registered
provider, those of OpenAI, Google, Alibaba and ByteDance serve video, and their runners are built
beside their chat adapters on the same connections."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from unigate.core.services import Modality
from unigate.providers.dashscope.video import DashScopeVideo
from unigate.providers.gemini import GeminiProvider
from unigate.providers.gemini.video import GeminiVideo
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_media.video import OpenAIVideo
from unigate.providers.registry import REGISTRY, build_providers
from unigate.providers.router import Router
from unigate.providers.seedance_video import SeedanceVideo
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, Settings

DATA = Path(__file__).resolve().parents[2] / "src" / "unigate" / "catalog" / "data"
ROUTES: dict[str, dict[str, Any]] = tomllib.loads((DATA / "routes" / "jobs_a.toml").read_text())
CATALOG = {m["id"]: m for m in orjson.loads((DATA / "models.json").read_bytes())["models"]}
OURS = {"openai", "gemini", "alibaba", "bytedance"}


def test_the_routes_cover_the_video_models_of_these_four_developers() -> None:
    assert len(ROUTES) == 47
    developers = {"OpenAI", "Google", "Alibaba Cloud", "ByteDance"}
    video = {
        i
        for i, m in CATALOG.items()
        if m["type"] == "video" and not m["deprecated"] and m["developer"] in developers and "krea" not in i
    }
    assert set(ROUTES) == video


@pytest.mark.parametrize("model", sorted(ROUTES))
def test_a_route_names_a_registered_video_provider_and_its_upstream(model: str) -> None:
    route = ROUTES[model]
    if route["provider"] == "":  # shut down upstream: answered with a 503 giving the reason
        assert set(route) == {"provider", "unavailable"}
        assert model.startswith(("sora-2", "veo2", "google/veo3", "google/veo-3.0"))
        assert "2026" in route["unavailable"]
        return
    assert set(route) == {"provider", "upstream"}
    assert route["provider"] in REGISTRY
    assert route["upstream"].strip() == route["upstream"] != ""
    if route["provider"] in OURS:
        assert Modality.VIDEO in REGISTRY[route["provider"]].serves
    else:
        assert route["provider"] == "fal"
        assert route["upstream"].startswith("fal-ai/")


def test_configured_providers_build_their_video_runners_beside_their_chat() -> None:
    env = {"OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g", "DASHSCOPE_API_KEY": "d", "BYTEDANCE_API_KEY": "b"}
    off = Settings(local=LocalModelSettings(enabled=False), embeddings=EmbeddingModelSettings(enabled=False))
    _, services = build_providers(replace(off, provider_env=env), models=[])
    assert isinstance(services.jobs("alibaba", Modality.VIDEO), DashScopeVideo)
    assert isinstance(services.jobs("bytedance", Modality.VIDEO), SeedanceVideo)
    for name, runner_type, chat_type in (
        ("openai", OpenAIVideo, OpenAICompatProvider),
        ("gemini", GeminiVideo, GeminiProvider),
    ):
        runner = services.jobs(name, Modality.VIDEO)
        assert isinstance(runner, runner_type)
        router = services[name].capabilities.chat
        assert isinstance(router, Router)
        chat = router.deployments[0].provider
        assert isinstance(chat, chat_type)
        assert runner.upstream is chat.upstream  # one connection pool for chat and video
    assert {"openai", "gemini", "alibaba", "bytedance"} <= services.serving(Modality.VIDEO)
