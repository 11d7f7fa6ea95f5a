"""The embedded speech models as a provider of the registry (``providers/registry.py`` registers
``LOCAL_SPEECH``): ``local-speech``, on when ``[speech]`` enables it and its packages and weights
are installed (else off, with a warning), serving a ``LocalSpeaker`` and a ``LocalTranscriber``
built from the ``[speech]`` settings, and bringing their two catalog models."""

from __future__ import annotations

import logging

from unigate.catalog.builtin import local_speech_spec, local_transcription_spec
from unigate.catalog.spec import ModelSpec
from unigate.core.services import Capabilities, Modality
from unigate.providers.registration import Registration, in_process
from unigate.providers.speech_local.speaker import LocalSpeaker
from unigate.providers.speech_local.transcriber import LocalTranscriber
from unigate.settings import LocalSpeechSettings, Settings

__all__ = ["LOCAL_SPEECH"]

log = logging.getLogger("unigate.providers")


def _settings(settings: Settings) -> LocalSpeechSettings | None:
    if not settings.speech.enabled:
        return None
    from unigate.providers.speech_local.weights import missing

    lacking = missing()
    if lacking is not None:
        log.warning("embedded speech models disabled: %s", lacking)
        return None
    return settings.speech


def _build(c: LocalSpeechSettings) -> Capabilities:
    # Piper, onnxruntime and faster-whisper are imported by the models' first load, not here.
    return Capabilities(
        speech=LocalSpeaker(threads=c.threads, max_queue=c.max_queue, max_wait_s=c.max_wait_s, preload=c.preload),
        transcription=LocalTranscriber(
            threads=c.threads, max_queue=c.max_queue, max_wait_s=c.max_wait_s, preload=c.preload
        ),
    )


def _models(settings: Settings) -> list[ModelSpec]:
    return [local_speech_spec(settings.speech), local_transcription_spec(settings.speech)]


LOCAL_SPEECH: Registration[LocalSpeechSettings] = in_process(
    "local-speech",
    "piper+faster-whisper",
    frozenset({Modality.SPEECH, Modality.TRANSCRIPTION}),
    _settings,
    _build,
    _models,
)
