"""Deepgram Aura text to speech: ``POST /v1/speak?model=<voice model>&encoding=...`` with
``{"text"}``; the audio comes back as it is generated.

Deepgram's TTS models are voices (``aura-asteria-en``, ``aura-2-thalia-en``). The catalog's
``#g1_aura-<voice>-<lang>`` ids name one already (their upstream id is that voice model); the
reference's ``deepgram/aura`` and ``deepgram/aura-2`` take a ``voice`` (their upstream id is the
family, ``aura`` or ``aura-2``), which this module turns into the voice model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.core.media import SpeechRequest
from unigate.errors import InvalidRequest

__all__ = ["AURA2_VOICES", "AURA_VOICES", "DEFAULT_VOICES", "speak_params", "voice_model"]

AURA_VOICES = frozenset(
    {"asteria", "hera", "luna", "stella", "athena", "zeus", "orion", "arcas", "perseus", "angus", "orpheus", "helios"}
)
"""Aura's English voices (the reference's ``deepgram/aura`` voice enum)."""

_AURA2_SPANISH = frozenset({"celeste", "estrella", "nestor"})
_AURA2_NAMES = (
    *("amalthea", "andromeda", "apollo", "arcas", "aries", "asteria", "athena", "atlas", "aurora", "callista"),
    *("cora", "cordelia", "delia", "draco", "electra", "harmonia", "helena", "hera", "hermes", "hyperion"),
    *("iris", "janus", "juno", "jupiter", "luna", "mars", "minerva", "neptune", "odysseus", "ophelia"),
    *("orion", "orpheus", "pandora", "phoebe", "pluto", "saturn", "selene", "thalia", "theia", "vesta"),
    *("zeus", "celeste", "estrella", "nestor"),
)
AURA2_VOICES: Mapping[str, str] = {name: ("es" if name in _AURA2_SPANISH else "en") for name in _AURA2_NAMES}
"""Aura-2's voices (the reference's ``deepgram/aura-2`` voice enum) and the language of each."""

DEFAULT_VOICES = {"aura": "asteria", "aura-2": "thalia"}
"""The voice of a family when none is asked for (the reference's defaults)."""

_ENCODINGS: Mapping[str, tuple[str, str | None]] = {
    "mp3": ("mp3", None),
    "wav": ("linear16", "wav"),
    "pcm": ("linear16", "none"),
    "opus": ("opus", "ogg"),
    "aac": ("aac", None),
    "flac": ("flac", None),
}
"""Our formats as Deepgram's ``encoding`` and ``container``."""

_SAMPLES = frozenset({"linear16", "mulaw", "alaw"})
"""Encodings of raw samples, wrapped in a WAV container unless ``container=none``."""


def voice_model(upstream: str, voice: str | None) -> str:
    """The Deepgram model that speaks: ``upstream`` itself, or for a family the voice's model."""
    if upstream not in DEFAULT_VOICES:
        return upstream
    name = (voice or DEFAULT_VOICES[upstream]).lower()
    if upstream == "aura" and name in AURA_VOICES:
        return f"aura-{name}-en"
    if upstream == "aura-2" and name in AURA2_VOICES:
        return f"aura-2-{name}-{AURA2_VOICES[name]}"
    raise InvalidRequest(f"{voice!r} is not a voice of Deepgram's {upstream}.", param="voice")


def _format(encoding: str, container: str | None) -> str:
    if encoding in _SAMPLES:
        if container == "none":
            return "pcm" if encoding == "linear16" else encoding
        return "wav"
    return encoding


def speak_params(request: SpeechRequest, upstream: str) -> tuple[dict[str, Any], str]:
    """The query of ``/v1/speak`` and the format of the audio it answers with. The reference's
    ``encoding``, ``container`` and ``sample_rate`` win over the asked ``format``."""
    options = request.options
    encoding, container = options.get("encoding"), options.get("container")
    if encoding is None:
        encoding, default_container = _ENCODINGS.get(request.format, _ENCODINGS["mp3"])
        container = container or default_container
    params = {
        "model": voice_model(upstream, request.voice),
        "encoding": encoding,
        "container": container,
        "sample_rate": options.get("sample_rate"),
        "speed": request.speed,
    }
    return params, _format(str(encoding), container)
