"""``AlibabaSpeaker``: Qwen text to speech (``qwen3-tts-flash``) through DashScope's native API,
``POST /api/v1/services/aigc/multimodal-generation/generation`` with ``{model, input: {text,
voice, language_type}}``, answered with ``{output: {audio: {url, data, id, expires_at}}, usage:
{characters}, request_id}``.

The audio is at ``output.audio.url``, an object-store link of DashScope's that expires: it is
fetched at once through the same transport (without our key, which is DashScope's only) and
streamed on. The native API lives on the host of the OpenAI-compatible base URL that the chat
adapter uses (``.../compatible-mode/v1``), so no second setting is needed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SpeechAudio, SpeechRequest
from unigate.errors import UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media_wire import message_failure
from unigate.providers.speech_stream import in_pieces, speech_audio
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["GENERATION_PATH", "AlibabaSpeaker", "native_origin", "tts_body"]

GENERATION_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
DEFAULT_VOICE = "Cherry"
"""The reference's default voice for ``alibaba/qwen3-tts-flash``."""


def _parse_error(body: bytes) -> UpstreamFailure:
    return message_failure(body)  # {"code", "message", "request_id"}


def native_origin(base_url: str) -> str:
    """``https://dashscope-intl.aliyuncs.com/compatible-mode/v1`` -> its scheme and host (and any
    path before ``/compatible-mode``, for a proxy that serves DashScope under a prefix)."""
    parts = urlsplit(base_url)
    prefix, _, _ = parts.path.partition("/compatible-mode")
    return f"{parts.scheme}://{parts.netloc}{prefix.rstrip('/')}"


def tts_body(request: SpeechRequest, upstream: str) -> dict[str, Any]:
    if request.instructions:
        raise UnsupportedParameter(f"{upstream} takes no instructions.", param="instructions")
    if request.speed is not None:
        raise UnsupportedParameter(f"{upstream} speaks at one speed.", param="speed")
    spoken: dict[str, Any] = {"text": request.text, "voice": request.voice or DEFAULT_VOICE}
    if request.options.get("language_type"):
        spoken["language_type"] = request.options["language_type"]
    return {"model": upstream, "input": spoken}


class AlibabaSpeaker(UpstreamAdapter):
    """Qwen TTS (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=_parse_error, transport=transport))

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        tts_body(request, model.upstream_model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        url = native_origin(self.config.base_url or "") + GENERATION_PATH
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        answer = await self.upstream.post_json(url, headers=headers, body=tts_body(request, model.upstream_model))
        output = answer.get("output") if isinstance(answer, Mapping) else None
        audio = output.get("audio") if isinstance(output, Mapping) else None
        audio = audio if isinstance(audio, Mapping) else {}
        link = str(audio.get("url") or "")
        if link.startswith(("https://", "http://")):
            resp = await self.open_link(link, "audio")
            media_type = resp.headers.get("content-type", "")
            chunks = self.upstream.body_chunks(resp)
            return await speech_audio(self.name, chunks, "wav", media_type if media_type.startswith("audio/") else None)
        try:
            data = base64.b64decode(str(audio.get("data") or ""), validate=True)
        except (ValueError, binascii.Error) as exc:
            raise UpstreamError(f"The {self.name} provider answered with audio that is not base64.") from exc
        return await speech_audio(self.name, in_pieces(data), "wav")
