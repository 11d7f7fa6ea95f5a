"""``DeepgramProvider``: Deepgram's Aura voices (``Speaker``) and its pre-recorded transcription,
Nova and hosted Whisper (``Transcriber``), at ``api.deepgram.com`` with ``Authorization: Token``."""

from __future__ import annotations

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SpeechAudio, SpeechRequest, Transcript, TranscriptionRequest
from unigate.errors import UnsupportedParameter
from unigate.providers.config import ProviderConfig
from unigate.providers.deepgram.errors import parse_error
from unigate.providers.deepgram.listen import listen_params, transcript
from unigate.providers.deepgram.speak import speak_params
from unigate.providers.http import Upstream
from unigate.providers.media_wire import query_string
from unigate.providers.speech_stream import speech_audio
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["DeepgramProvider"]


class DeepgramProvider(UpstreamAdapter):
    """One Deepgram deployment, serving both speech and transcription (see the module)."""

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def _headers(self, content_type: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.config.api_key}", "Content-Type": content_type}

    def _url(self, path: str, params: dict[str, object]) -> str:
        return f"{self.url(path)}?{query_string(params)}"

    # -- text to speech ----------------------------------------------------------------------------

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        if request.instructions:
            raise UnsupportedParameter("Deepgram's Aura voices take no instructions.", param="instructions")
        speak_params(request, model.upstream_model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        params, audio_format = speak_params(request, model.upstream_model)
        resp = await self.upstream.open(
            "POST",
            self._url("v1/speak", params),
            headers=self._headers("application/json"),
            body=orjson.dumps({"text": request.text}),
            stream=True,
        )
        media_type = resp.headers.get("content-type", "")
        declared = media_type if media_type.startswith("audio/") else None
        return await speech_audio(self.name, self.upstream.body_chunks(resp), audio_format, declared)

    # -- speech to text ----------------------------------------------------------------------------

    def check_transcription(self, request: TranscriptionRequest, model: ModelSpec) -> None:
        if request.task == "translate":
            raise UnsupportedParameter("Deepgram transcribes; it does not translate.", param="task")
        if request.prompt:
            raise UnsupportedParameter("Deepgram's models take no prompt.", param="prompt")
        if request.temperature is not None:
            raise UnsupportedParameter("Deepgram's models take no temperature.", param="temperature")

    async def transcribe(self, request: TranscriptionRequest, model: ModelSpec) -> Transcript:
        answer = await self.upstream.request_json(
            "POST",
            self._url("v1/listen", listen_params(request, model.upstream_model)),
            headers=self._headers(request.audio.content_type),
            body=request.audio.data,
        )
        return transcript(answer, request)
