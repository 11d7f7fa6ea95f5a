"""``HumeSpeaker``: Hume's Octave text to speech, streamed: ``POST /v0/tts/stream/file`` with
``{utterances: [{text, voice: {name, provider}, description, speed}], format: {type}, version}``
and the ``X-Hume-Api-Key`` header; the audio file comes back as it is generated (the request and
answer shapes of Hume's SDK, HumeAI/hume-python-sdk ``tts.synthesize_file_streaming``).

The service's voices are names in Hume's Voice Library, so their provider is ``HUME_AI``; an
``instructions`` text is Octave's acting ``description``. ``octave-2`` is ``version: "2"``.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SpeechAudio, SpeechRequest
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media_wire import message_failure
from unigate.providers.speech_stream import speech_audio
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["DEFAULT_VOICE", "HumeSpeaker", "octave_body"]

DEFAULT_VOICE = "Vince Douglas"
"""The reference's default voice for ``hume/octave-2``."""
FORMATS = frozenset({"mp3", "wav", "pcm"})
_VERSIONS = {"octave-1": "1", "octave-2": "2"}


def _parse_error(body: bytes) -> UpstreamFailure:
    return message_failure(body)  # {"message"}, {"code", "error", "message"}, {"detail": [...]}


def octave_body(request: SpeechRequest, upstream: str) -> tuple[dict[str, Any], str]:
    """The body and the format of the audio it asks for (MP3 for a format Octave does not make)."""
    asked = str(request.options.get("format") or request.format)
    audio_format = asked if asked in FORMATS else "mp3"
    utterance: dict[str, Any] = {
        "text": request.text,
        "voice": {"name": request.voice or DEFAULT_VOICE, "provider": "HUME_AI"},
    }
    if request.instructions:
        utterance["description"] = request.instructions
    if request.speed is not None:
        utterance["speed"] = request.speed
    body: dict[str, Any] = {"utterances": [utterance], "format": {"type": audio_format}}
    if upstream in _VERSIONS:
        body["version"] = _VERSIONS[upstream]
    return body, audio_format


class HumeSpeaker(UpstreamAdapter):
    """Hume Octave, streamed (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=_parse_error, transport=transport))

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        octave_body(request, model.upstream_model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        body, audio_format = octave_body(request, model.upstream_model)
        resp = await self.upstream.open(
            "POST",
            self.url("v0/tts/stream/file"),
            headers={"X-Hume-Api-Key": self.config.api_key or "", "Content-Type": "application/json"},
            body=orjson.dumps(body),
            stream=True,
        )
        return await speech_audio(self.name, self.upstream.body_chunks(resp), audio_format)
