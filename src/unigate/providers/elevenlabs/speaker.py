"""``ElevenLabsSpeaker``: ElevenLabs text to speech, streamed:
``POST /v1/text-to-speech/{voice_id}/stream?output_format=...`` with
``{text, model_id, voice_settings, ...}`` and the ``xi-api-key`` header."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SpeechAudio, SpeechRequest
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.providers.config import ProviderConfig
from unigate.providers.elevenlabs.errors import parse_error
from unigate.providers.elevenlabs.voices import VOICE_IDS, voice_id
from unigate.providers.http import Upstream
from unigate.providers.media_wire import query_string
from unigate.providers.speech_stream import speech_audio
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["ElevenLabsSpeaker", "speech_body"]

_OUTPUT_FORMATS = {"mp3": "mp3_44100_128", "pcm": "pcm_24000", "opus": "opus_48000_128"}
"""Our formats as ElevenLabs' ``output_format``; the others (WAV, AAC, FLAC) it does not make,
so they come as MP3 (``SpeechAudio.format`` says so). PCM at 24 kHz is what OpenAI's ``pcm`` is."""

_CODECS = {"mp3": "mp3", "pcm": "pcm", "opus": "opus", "ulaw": "mulaw", "alaw": "alaw"}

_BODY_FIELDS = ("seed", "previous_text", "next_text", "apply_text_normalization", "language_code")
"""The reference's fields that ElevenLabs' body takes under the same name."""

SPEED_RANGE = (0.7, 1.2)
"""ElevenLabs' ``voice_settings.speed`` bounds."""


def _voice(request: SpeechRequest) -> str:
    found = voice_id(request.voice)
    if found is None:
        names = ", ".join(sorted(VOICE_IDS))
        raise InvalidRequest(f"{request.voice!r} is not an ElevenLabs voice; use one of: {names}.", param="voice")
    return found


def speech_body(request: SpeechRequest, model: ModelSpec) -> tuple[dict[str, Any], str]:
    """The body and the ``output_format`` of one request."""
    if request.instructions:
        raise UnsupportedParameter("ElevenLabs' models take no instructions.", param="instructions")
    options = request.options
    body: dict[str, Any] = {"text": request.text, "model_id": model.upstream_model}
    settings: Mapping[str, Any] = options.get("voice_settings") or {}
    if request.speed is not None:
        low, high = SPEED_RANGE
        if not low <= request.speed <= high:
            raise InvalidRequest(f"ElevenLabs speaks at a speed from {low} to {high}.", param="speed")
        settings = {**settings, "speed": request.speed}
    if settings:
        body["voice_settings"] = dict(settings)
    body.update({name: options[name] for name in _BODY_FIELDS if options.get(name) is not None})
    output_format = options.get("output_format") or _OUTPUT_FORMATS.get(request.format, _OUTPUT_FORMATS["mp3"])
    return body, str(output_format)


class ElevenLabsSpeaker(UpstreamAdapter):
    """ElevenLabs text to speech (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        _voice(request)
        speech_body(request, model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        body, output_format = speech_body(request, model)
        path = f"v1/text-to-speech/{quote(_voice(request), safe='')}/stream"
        resp = await self.upstream.open(
            "POST",
            f"{self.url(path)}?{query_string({'output_format': output_format})}",
            headers={"xi-api-key": self.config.api_key or "", "Content-Type": "application/json"},
            body=orjson.dumps(body),
            stream=True,
        )
        audio_format = _CODECS.get(output_format.split("_", 1)[0], "mp3")
        return await speech_audio(self.name, self.upstream.body_chunks(resp), audio_format)
