"""``FalSpeaker``: text to speech through fal's queue API (``queue.py``), for Microsoft's
VibeVoice, which Microsoft publishes as open weights and fal runs (``fal-ai/vibevoice``, the
1.5B model, and ``fal-ai/vibevoice/7b``).

VibeVoice's input is ``{script, speakers: [{preset} | {audio_url}], seed, cfg_scale}``: the
script is the request's text (``Speaker 0: ...`` lines for a dialogue of up to four voices), the
speakers are the service's ``speakers`` field as it is, or else one speaker whose preset is the
request's voice (the reference's default, ``Alice [EN]``, without one): fal requires the list.

The answer is ``{audio: {url, content_type, file_name, file_size}, duration, sample_rate, ...}``;
the audio is fetched at once from its link (fal's media CDN, without our key) and streamed on.
Its format is the one its media type, else its file name, says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack
from urllib.parse import urlsplit

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SpeechAudio, SpeechRequest
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.fal.queue import FalQueue
from unigate.providers.speech_stream import AUDIO_TYPES, speech_audio
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter, Waits

__all__ = ["DEFAULT_PRESET", "SCRIPT_APPS", "FalSpeaker", "audio_format", "script_input"]

SCRIPT_APPS = frozenset({"fal-ai/vibevoice", "fal-ai/vibevoice/7b"})
"""The fal apps whose input is VibeVoice's ``script`` and ``speakers``."""

DEFAULT_PRESET = "Alice [EN]"
"""The service's documented default speaker for the VibeVoice models."""

SERVICE_ONLY = frozenset({"stream", "provider"})
"""Fields of the service's schemas that steer the service itself, never an upstream."""

_EXTENSIONS = {"mp3": "mp3", "wav": "wav", "flac": "flac", "ogg": "opus", "opus": "opus", "aac": "aac"}
_TYPES = {**{kind: name for name, kind in AUDIO_TYPES.items()}, "audio/x-wav": "wav", "audio/mp3": "mp3"}


def script_input(request: SpeechRequest, app: str) -> dict[str, Any]:
    """The JSON body submitted to a VibeVoice app."""
    if app not in SCRIPT_APPS:
        raise InvalidRequest(f"The fal provider has no speech input for the app {app}.", param="model")
    if request.instructions:
        raise UnsupportedParameter(f"{app} takes no instructions; its script sets the delivery.", param="instructions")
    if request.speed is not None:
        raise UnsupportedParameter(f"{app} speaks at one speed.", param="speed")
    body: dict[str, Any] = {k: v for k, v in request.options.items() if k not in SERVICE_ONLY}
    if body.get("speakers") and request.voice:
        raise InvalidRequest("Give either 'voice' or 'speakers', not both.", param="voice")
    body["script"] = request.text
    if not body.get("speakers"):
        body["speakers"] = [{"preset": request.voice or DEFAULT_PRESET}]
    return body


def audio_format(media_type: str, name: str) -> str:
    """The format of audio served as ``media_type`` under the file or URL path ``name``; WAV, what
    VibeVoice writes, when neither says."""
    known = _TYPES.get(media_type.split(";")[0].strip().lower())
    if known:
        return known
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _EXTENSIONS.get(extension, "wav")


class FalSpeaker(UpstreamAdapter):
    """VibeVoice on fal (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None, **waits: Unpack[Waits]) -> None:
        self.queue = FalQueue(config, transport=transport, **waits)
        super().__init__(self.queue.upstream)

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        script_input(request, model.upstream_model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        app = model.upstream_model
        answer = await self.queue.run(app, script_input(request, app))
        audio = answer.get("audio") if isinstance(answer, Mapping) else None
        audio = audio if isinstance(audio, Mapping) else {}
        link = str(audio.get("url") or "")
        if not link.startswith(("https://", "http://")):
            raise UpstreamError(f"The {self.name} provider's answer for {app} holds no audio link.")
        resp = await self.open_link(link, "audio")
        served = resp.headers.get("content-type", "")
        declared = str(audio.get("content_type") or "")
        media_type = declared if declared.startswith("audio/") else served
        audio_kind = audio_format(media_type, str(audio.get("file_name") or urlsplit(link).path))
        chunks = self.upstream.body_chunks(resp)
        return await speech_audio(
            self.name, chunks, audio_kind, media_type if media_type.startswith("audio/") else None
        )
