"""How the embedded speech models are set up: the ``[speech]`` settings and their variables, the
registration that builds a speaker and a transcriber, the two catalog models with their per-unit
prices and aliases, and speech left off (with a warning) when its packages are missing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from unigate.catalog.builtin import LOCAL_SPEECH_MODEL_ID, LOCAL_TRANSCRIPTION_MODEL_ID
from unigate.catalog.catalog import Catalog
from unigate.core.services import Modality
from unigate.providers.registry import REGISTRY, build_providers
from unigate.providers.speech_local import LocalSpeaker, LocalTranscriber, missing, voice_files, whisper_dir
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, LocalSpeechSettings, Settings, load_settings

QUIET = Settings(local=LocalModelSettings(enabled=False), embeddings=EmbeddingModelSettings(enabled=False))


def test_the_settings_come_from_the_table_then_the_environment(tmp_path: Path) -> None:
    assert load_settings(env={}).speech == LocalSpeechSettings()
    config = tmp_path / "unigate.toml"
    config.write_text("[speech]\nthreads = 1\nmax_queue = 4\ntts_price_per_mchar = 7\n")
    env = {
        "UNIGATE_SPEECH_ENABLED": "0",
        "UNIGATE_SPEECH_MAX_QUEUE": "9",
        "UNIGATE_SPEECH_PRELOAD": "yes",
        "UNIGATE_SPEECH_MAX_WAIT_S": "2.5",
        "UNIGATE_SPEECH_STT_PRICE_PER_MSECOND": "11",
    }
    assert load_settings(config, env=env).speech == LocalSpeechSettings(
        enabled=False,
        threads=1,
        max_queue=9,
        max_wait_s=2.5,
        preload=True,
        tts_price_per_mchar=7,
        stt_price_per_msecond=11,
    )
    config.write_text("[speech]\nvoice = 'alloy'\n")
    with pytest.raises(ValueError, match=r"unknown \[speech\] settings: voice"):
        load_settings(config, env={})


def test_the_shipped_files_are_found_in_their_wheels() -> None:
    assert missing() is None
    voice = voice_files()
    assert voice.model.name == "en_US-joe-medium.onnx"
    assert voice.model.stat().st_size > 50_000_000
    assert voice.config.name == "en_US-joe-medium.onnx.json"
    assert {p.name for p in whisper_dir().iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}


def test_the_registration_builds_a_speaker_and_a_transcriber_with_two_priced_models() -> None:
    assert REGISTRY["local-speech"].serves == frozenset({Modality.SPEECH, Modality.TRANSCRIPTION})
    speech = LocalSpeechSettings(tts_price_per_mchar=3_000_000, stt_price_per_msecond=5_000_000)
    models, services = build_providers(Settings(local=QUIET.local, embeddings=QUIET.embeddings, speech=speech))
    assert isinstance(services.speaker("local-speech"), LocalSpeaker)
    assert isinstance(services.transcriber("local-speech"), LocalTranscriber)
    assert "local-speech" in services.serving(Modality.SPEECH) & services.serving(Modality.TRANSCRIPTION)

    catalog = Catalog(models)
    tts, stt = catalog.resolve(LOCAL_SPEECH_MODEL_ID), catalog.resolve(LOCAL_TRANSCRIPTION_MODEL_ID)
    assert (tts.provider, tts.type, tts.endpoints) == ("local-speech", "tts", ("/v1/tts", "/v1/audio/speech"))
    assert (stt.provider, stt.type) == ("local-speech", "stt")
    assert stt.endpoints == ("/v1/stt/create", "/v1/stt", "/v1/audio/transcriptions")
    assert tts.unit_price is not None
    assert stt.unit_price is not None
    assert (tts.unit_price.unit, tts.unit_price.per_million) == ("character", 3_000_000)
    assert (stt.unit_price.unit, stt.unit_price.per_million) == ("second", 5_000_000)
    assert tts.unit_price.source == stt.unit_price.source == "configured"
    assert tts.unit_price.cost(4096) == 12_288  # the longest input, at 3 credits a character
    assert stt.unit_price.cost(61.5) == 308  # 61.5 s at 5 credits a second, rounded up
    for alias in ("piper", "en_US-joe-medium"):
        assert catalog.resolve(alias) is tts
    for alias in ("whisper-tiny.en", "faster-whisper-tiny.en"):
        assert catalog.resolve(alias) is stt
    assert catalog.resolve("#g1_whisper-tiny") is not stt  # the remote model keeps its id


def test_speech_is_off_when_disabled_or_when_its_packages_are_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    off = Settings(local=QUIET.local, embeddings=QUIET.embeddings, speech=LocalSpeechSettings(enabled=False))
    models, services = build_providers(off)
    assert "local-speech" not in services
    assert LOCAL_SPEECH_MODEL_ID not in {m.id for m in models}

    monkeypatch.setattr("unigate.providers.speech_local.weights.missing", lambda: "the av package is not installed")
    with caplog.at_level(logging.WARNING, logger="unigate.providers"):
        models, services = build_providers(QUIET)
    assert "local-speech" not in services
    assert LOCAL_TRANSCRIPTION_MODEL_ID not in {m.id for m in models}
    assert "embedded speech models disabled: the av package is not installed" in caplog.text
