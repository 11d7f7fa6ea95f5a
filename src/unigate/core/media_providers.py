"""The media capabilities: what a provider implements to serve images, speech, transcription and
OCR. A provider declares each in its registration (``Modality.IMAGES``... with the object in
``Capabilities``), as for chat (``provider.py``) and embeddings (``embedder.py``).

Every method raises ``GatewayError`` subclasses (``InvalidRequest`` for what the upstream refuses,
``UpstreamError``, ``Overloaded``...); cancelling the awaiting task stops the upstream work.
``check_*`` runs before any credit is reserved, for what the model's reference schema cannot say.
"""

from __future__ import annotations

from typing import Protocol

from unigate.catalog.spec import ModelSpec
from unigate.core.media import (
    ImageRequest,
    ImageResult,
    OcrRequest,
    OcrResult,
    SpeechAudio,
    SpeechRequest,
    Transcript,
    TranscriptionRequest,
)

__all__ = ["ImageGenerator", "OcrReader", "Speaker", "Transcriber"]


class _Lifecycle(Protocol):
    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class ImageGenerator(_Lifecycle, Protocol):
    def check_image(self, request: ImageRequest, model: ModelSpec) -> None: ...

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        """Every image of ``request.count``; an upstream that runs tasks is polled until done."""
        ...


class Speaker(_Lifecycle, Protocol):
    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None: ...

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        """Audio as generated; see ``SpeechAudio`` for when it may return."""
        ...


class Transcriber(_Lifecycle, Protocol):
    def check_transcription(self, request: TranscriptionRequest, model: ModelSpec) -> None: ...

    async def transcribe(self, request: TranscriptionRequest, model: ModelSpec) -> Transcript: ...


class OcrReader(_Lifecycle, Protocol):
    def check_ocr(self, request: OcrRequest, model: ModelSpec) -> None: ...

    async def read(self, request: OcrRequest, model: ModelSpec) -> OcrResult: ...
