"""``OpenAIMedia``: OpenAI's images, speech and transcription (``images.py`` and ``audio.py`` say
what is sent and why).

Speech is returned once its first bytes are in: a failure before any audio (a refused voice, a
rate limit) is the typed error of its status, never a 200 with nothing in it; after that, the
bytes are passed on as they arrive, and closing the returned chunks closes the upstream answer,
which is how OpenAI learns to stop generating.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.media import (
    SPEECH_FORMATS,
    ImageRequest,
    ImageResult,
    SpeechAudio,
    SpeechRequest,
    Transcript,
    TranscriptionRequest,
)
from unigate.errors import UpstreamError
from unigate.providers.openai_media.adapter import MediaAdapter
from unigate.providers.openai_media.answers import images_of
from unigate.providers.openai_media.audio import (
    check_speech_request,
    check_transcription_request,
    speech_body,
    transcript_of,
    transcription_body,
)
from unigate.providers.openai_media.images import (
    check_image_request,
    edit_body,
    generation_body,
    is_edit,
    is_gpt_image,
)

__all__ = ["OpenAIMedia", "SpeechChunks"]


class SpeechChunks:
    """The audio of one answer: the first chunk, already read, then the rest as it arrives.
    ``aclose()`` closes the upstream answer even when nothing was read yet (an async generator
    that never started would not)."""

    def __init__(self, first: bytes, rest: AsyncGenerator[bytes, None]) -> None:
        self._first: bytes | None = first
        self._rest = rest

    def __aiter__(self) -> SpeechChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return await anext(self._rest)

    async def aclose(self) -> None:
        self._first = None
        await self._rest.aclose()


class OpenAIMedia(MediaAdapter):
    """``POST {base_url}/images/...`` and ``/audio/...`` of one OpenAI deployment."""

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        check_image_request(request, model, provider=self.name)

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        if is_edit(request):
            body, content_type = edit_body(request, model)
            url = self.url("images/edits")
            data = await self.upstream.request_json("POST", url, headers=self.headers(content_type), body=body)
        else:
            url = self.url("images/generations")
            data = await self.upstream.post_json(url, headers=self.headers(), body=generation_body(request, model))
        # The GPT image models answer png unless asked otherwise, and say which they made.
        asked = request.output_format or ("png" if is_gpt_image(model) else None)
        return ImageResult(images_of(data, provider=self.name, output_format=asked), model=model.upstream_model)

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        check_speech_request(request, model, provider=self.name)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        body = orjson.dumps(speech_body(request, model))
        headers = self.headers("application/json", accept="*/*")
        resp = await self.upstream.open("POST", self.url("audio/speech"), headers=headers, body=body, stream=True)
        chunks = self.upstream.body_chunks(resp)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            raise UpstreamError(f"The {self.name} provider answered with no audio.") from None
        except BaseException:
            await chunks.aclose()  # cancelled or failed before any audio: the answer is closed
            raise
        answered = resp.headers.get("content-type", "")
        content_type = answered if answered.startswith("audio/") else SPEECH_FORMATS[request.format]
        return SpeechAudio(content_type, SpeechChunks(first, chunks), request.format)

    def check_transcription(self, request: TranscriptionRequest, model: ModelSpec) -> None:
        check_transcription_request(request, model, provider=self.name)

    async def transcribe(self, request: TranscriptionRequest, model: ModelSpec) -> Transcript:
        path = "audio/translations" if request.task == "translate" else "audio/transcriptions"
        body, content_type = transcription_body(request, model)
        data = await self.upstream.request_json("POST", self.url(path), headers=self.headers(content_type), body=body)
        return transcript_of(data, provider=self.name)
