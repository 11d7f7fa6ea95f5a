"""``InworldSpeaker``: Inworld text to speech, ``POST /tts/v1/voice`` with ``{text, voiceId,
modelId, audioConfig: {audioEncoding, speakingRate}}`` and ``Authorization: Basic <key>`` (the key
is the Base64 credential Inworld's portal gives), answered with ``{audioContent: <base64>,
usage}`` (docs.inworld.ai, API reference "Synthesize speech").

The service's voice names are Inworld's voice ids. ``LINEAR16`` comes with its WAV header.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SpeechAudio, SpeechRequest
from unigate.errors import UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media_wire import message_failure
from unigate.providers.speech_stream import in_pieces, speech_audio
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["DEFAULT_VOICE", "ENCODINGS", "InworldSpeaker", "voice_body"]

DEFAULT_VOICE = "Alex"
"""The reference's default voice for the Inworld models."""
ENCODINGS = {"mp3": "MP3", "wav": "LINEAR16", "opus": "OGG_OPUS"}
"""Our formats as Inworld's ``audioEncoding``; any other is asked for as MP3."""


def _parse_error(body: bytes) -> UpstreamFailure:
    return message_failure(body)  # {"code", "message", "details"}


def voice_body(request: SpeechRequest, upstream: str) -> tuple[dict[str, Any], str]:
    if request.instructions:
        raise UnsupportedParameter("Inworld's TTS models take no instructions.", param="instructions")
    asked = str(request.options.get("format") or request.format)
    audio_format = asked if asked in ENCODINGS else "mp3"
    config: dict[str, Any] = {"audioEncoding": ENCODINGS[audio_format]}
    if request.speed is not None:
        config["speakingRate"] = request.speed
    body = {"text": request.text, "voiceId": request.voice or DEFAULT_VOICE, "modelId": upstream, "audioConfig": config}
    return body, audio_format


class InworldSpeaker(UpstreamAdapter):
    """Inworld text to speech (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=_parse_error, transport=transport))

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        voice_body(request, model.upstream_model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        body, audio_format = voice_body(request, model.upstream_model)
        answer = await self.upstream.post_json(
            self.url("tts/v1/voice"),
            headers={"Authorization": f"Basic {self.config.api_key}"},
            body=body,
        )
        content = answer.get("audioContent") if isinstance(answer, Mapping) else None
        try:
            audio = base64.b64decode(str(content or ""), validate=True)
        except (ValueError, binascii.Error) as exc:
            raise UpstreamError(f"The {self.name} provider answered with audio that is not base64.") from exc
        return await speech_audio(self.name, in_pieces(audio), audio_format)
