"""The speech, transcription and OCR upstreams, for ``registry.py`` to register: Deepgram,
ElevenLabs, AssemblyAI, Hume and Inworld, which serve only those (``SPEECH_UPSTREAMS``); and the
speech or OCR adapter that MiniMax, Alibaba, Mistral and Zhipu, registered for chat, add beside
their OpenAI-compatible one, on the same key, base URL and connections (``adding_speech``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from unigate.core.services import Capabilities, Modality
from unigate.providers.alibaba_tts import AlibabaSpeaker
from unigate.providers.assemblyai import AssemblyAITranscriber
from unigate.providers.deepgram import DeepgramProvider
from unigate.providers.elevenlabs import ElevenLabsSpeaker
from unigate.providers.hume_tts import HumeSpeaker
from unigate.providers.inworld_tts import InworldSpeaker
from unigate.providers.minimax_speech import MiniMaxSpeaker
from unigate.providers.mistral_ocr import MistralOcrReader
from unigate.providers.registration import Registration, Upstream, upstream
from unigate.providers.zhipu_ocr import ZhipuOcrReader

__all__ = ["SPEECH_UPSTREAMS", "Adding", "adding_speech"]

SPEECH = frozenset({Modality.SPEECH})
TRANSCRIPTION = frozenset({Modality.TRANSCRIPTION})

Adding = Callable[[Upstream, Capabilities], Capabilities]


def _deepgram(u: Upstream) -> Capabilities:
    both = DeepgramProvider(u.config, transport=u.transport)
    return Capabilities(speech=both, transcription=both)


def _only(modality: str, cls: Callable[..., Any]) -> Callable[[Upstream], Capabilities]:
    """A provider serving one modality with ``cls``, built on each deployment's transport."""
    return lambda u: Capabilities(**{modality: cls(u.config, transport=u.transport)})


def _beside(modality: str, cls: Callable[..., Any]) -> Adding:
    """A deployment's capabilities with ``cls`` added for ``modality``, on its transport."""
    return lambda u, built: replace(built, **{modality: cls(u.config, transport=u.transport)})


SPEECH_UPSTREAMS: tuple[Registration[Upstream], ...] = (
    upstream("deepgram", "https://api.deepgram.com", _deepgram, kind="deepgram", serves=SPEECH | TRANSCRIPTION),
    upstream(
        "elevenlabs", "https://api.elevenlabs.io", _only("speech", ElevenLabsSpeaker), kind="elevenlabs", serves=SPEECH
    ),
    upstream(
        "assemblyai",
        "https://api.assemblyai.com",
        _only("transcription", AssemblyAITranscriber),
        kind="assemblyai",
        serves=TRANSCRIPTION,
    ),
    upstream("hume", "https://api.hume.ai", _only("speech", HumeSpeaker), kind="hume", serves=SPEECH),
    upstream("inworld", "https://api.inworld.ai", _only("speech", InworldSpeaker), kind="inworld", serves=SPEECH),
)
"""Registered after the chat providers (a ``[providers.*]`` table's ``kind`` resolves to the first
registration of that kind, so ``kind = "deepgram"`` builds a self-hosted Deepgram too)."""


def adding_speech() -> dict[str, tuple[Modality, Adding]]:
    """The chat providers that also speak or read, by name: the modality and how each deployment's
    adapter for it is built beside the chat one."""
    return {
        "minimax": (Modality.SPEECH, _beside("speech", MiniMaxSpeaker)),
        "alibaba": (Modality.SPEECH, _beside("speech", AlibabaSpeaker)),
        "mistral": (Modality.OCR, _beside("ocr", MistralOcrReader)),
        "zhipu": (Modality.OCR, _beside("ocr", ZhipuOcrReader)),
    }
