"""``MiniMaxSpeaker``: MiniMax's speech-2.x models through T2A v2, ``POST /v1/t2a_v2`` with
``{model, text, stream, voice_setting, audio_setting, ...}``, answered with the audio in hex:
``{data: {audio}, extra_info, base_resp: {status_code, status_msg}}``.

A ``base_resp`` whose ``status_code`` is not 0 is a failure even in an HTTP 200; its code says
which (MiniMax's error-code table), mapped here to the HTTP status it stands for. The audio is
asked for whole (``stream: false``: MiniMax makes WAV only that way) and handed on in pieces.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SpeechAudio, SpeechRequest
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure, failure_error
from unigate.providers.speech_stream import in_pieces, speech_audio
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter
from unigate.providers.wire import error_object

__all__ = ["STATUS_OF_CODE", "MiniMaxSpeaker", "base_failure", "parse_error", "t2a_body"]

STATUS_OF_CODE: Mapping[int, int] = {
    1000: 502,  # unknown error
    1001: 504,  # request timeout
    1002: 429,  # rate limit
    1004: 401,  # not authorized
    1008: 402,  # insufficient balance: the operator's account, not the client's request
    1024: 502,  # internal error
    1026: 400,  # input sensitive
    1027: 400,  # output sensitive
    1033: 502,  # system error
    1039: 429,  # token limit
    1041: 429,  # connection limit
    1042: 400,  # invisible character ratio limit
    2013: 400,  # invalid params
    20132: 400,  # invalid voice_id
}
"""``base_resp.status_code`` as the HTTP status it stands for; any other is a 502."""

FORMATS = frozenset({"mp3", "pcm", "flac", "wav"})
DEFAULT_VOICE = "Wise_Woman"
"""The reference's default ``voice_setting.voice_id``."""
SPEED_RANGE = (0.5, 2.0)

_PASSED = ("pronunciation_dict", "timbre_weights", "language_boost", "voice_modify", "subtitle_enable")
"""The reference's fields that T2A v2 takes under the same name."""


def base_failure(base: Any) -> UpstreamFailure | None:
    """The failure a ``base_resp`` reports (its ``status_code`` is not 0), or ``None``; MiniMax's
    every API answers with one."""
    if not isinstance(base, Mapping):
        return None
    code = base.get("status_code")
    if not isinstance(code, int) or code == 0:
        return None
    message = f"{base.get('status_msg') or 'error'} (status_code {code})"
    return UpstreamFailure(message, status=STATUS_OF_CODE.get(code, 502))


def parse_error(body: bytes) -> UpstreamFailure:
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    return base_failure(data.get("base_resp")) or UpstreamFailure(None)


def t2a_body(request: SpeechRequest, upstream: str) -> dict[str, Any]:
    if request.instructions:
        raise UnsupportedParameter("MiniMax's speech models take no instructions.", param="instructions")
    options = request.options
    voice: dict[str, Any] = {"voice_id": DEFAULT_VOICE, **(options.get("voice_setting") or {})}
    if request.voice:
        voice["voice_id"] = request.voice
    if request.speed is not None:
        low, high = SPEED_RANGE
        if not low <= request.speed <= high:
            raise InvalidRequest(f"MiniMax speaks at a speed from {low} to {high}.", param="speed")
        voice["speed"] = request.speed
    audio: dict[str, Any] = dict(options.get("audio_setting") or {})
    audio.setdefault("format", request.format if request.format in FORMATS else "mp3")
    body: dict[str, Any] = {
        "model": upstream,
        "text": request.text,
        "stream": False,
        "output_format": "hex",
        "voice_setting": voice,
        "audio_setting": audio,
    }
    body.update({name: options[name] for name in _PASSED if options.get(name) is not None})
    return body


class MiniMaxSpeaker(UpstreamAdapter):
    """MiniMax T2A v2 (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        t2a_body(request, model.upstream_model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        body = t2a_body(request, model.upstream_model)
        url = self.url("t2a_v2")
        answer = await self.upstream.post_json(
            url, headers={"Authorization": f"Bearer {self.config.api_key}"}, body=body
        )
        answer = answer if isinstance(answer, dict) else {}
        failure = base_failure(answer.get("base_resp"))
        if failure is not None:
            raise failure_error(self.config, 502, failure)
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        try:
            audio = bytes.fromhex(str((data or {}).get("audio") or ""))
        except (ValueError, binascii.Error) as exc:
            raise UpstreamError(f"The {self.name} provider answered with audio that is not hex.") from exc
        info = answer.get("extra_info") if isinstance(answer.get("extra_info"), dict) else {}
        audio_format = str((info or {}).get("audio_format") or body["audio_setting"]["format"])
        return await speech_audio(self.name, in_pieces(audio), audio_format)
