"""The media capabilities: what a provider implements to serve images, speech, transcription,
OCR and generation jobs (video, music, 3D). A provider declares each in its registration
(``Modality.IMAGES``... with the object in ``Capabilities``), as for chat (``provider.py``) and
embeddings (``embedder.py``).

Every method raises ``GatewayError`` subclasses (``InvalidRequest`` for what the upstream refuses,
``UpstreamError``, ``Overloaded``...); cancelling the awaiting task stops the upstream work.
``check_*`` runs before any credit is reserved, for what the model's reference schema cannot say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GenerationRequest, JobTiming, Progress, Submitted
from unigate.core.media import (
    Blob,
    ImageRequest,
    ImageResult,
    OcrRequest,
    OcrResult,
    SpeechAudio,
    SpeechRequest,
    Transcript,
    TranscriptionRequest,
)

__all__ = ["ImageGenerator", "JobRunner", "OcrReader", "ReferenceUploader", "Speaker", "Transcriber"]


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


class JobRunner(_Lifecycle, Protocol):
    """Runs video, music or 3D jobs on an upstream (``core/jobs.py``). ``submit`` and ``poll`` are
    each one short exchange; the gateway's pollers call ``poll`` again by ``timing`` until the job
    ends, on whichever replica holds the job then, so a runner keeps nothing between calls that is
    not in ``Submitted.state``."""

    timing: JobTiming
    inline: bool
    """``submit`` runs the whole job (a synchronous upstream, answering the file): a poller makes
    the call, so that the create request answers at once."""

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None: ...

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        """Start the job; ``reference`` is the gateway's job id, sent where the upstream takes an
        idempotency key or a caller's id for its task (then a retried submission cannot start it
        twice). Raises ``InvalidRequest`` for what the upstream refused (the job is refunded and
        the client gets the 400), other ``GatewayError``s for upstream failures."""
        ...

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        """Where the upstream's job stands; its files once completed. An upstream that no longer
        knows the job answers ``Progress(ERROR, message=...)``, not an exception: a poll that
        raises is asked again later, until the deadline."""
        ...


@runtime_checkable
class ReferenceUploader(Protocol):
    """A music runner whose upstream first takes a reference recording and answers ids to
    generate from (MiniMax's ``music-01``: ``voice_id``, ``instrumental_id``)."""

    async def upload_reference(self, audio: Blob, purpose: str) -> Mapping[str, Any]:
        """The upstream's ids for ``audio`` uploaded as ``purpose`` (``song``, ``voice`` or
        ``instrumental``)."""
        ...
