"""The request flow of the media modalities: the gateway's steps (scope, model, the provider's
checks, rate limits, a reservation of the worst case, the call, one settlement) with each
modality's own unit.

=============  ==========================  =====================================================
modality       reserved before the call    settled after it
=============  ==========================  =====================================================
images         ``count`` images            the images delivered (stored or inlined)
speech         the text's characters       the same when any audio went out; nothing when the
                                           upstream failed first or mid-way
transcription  the audio's duration        the same (read from the file, not the upstream's say)
OCR            ``pages`` asked, 1 for an   the pages read
               image, else ``MAX_PAGES``
=============  ==========================  =====================================================

Generated files go to the ``MediaStore`` before the answer is rendered, so what a client gets is
the gateway's own URL; a failure after some were stored deletes them (no orphaned file) and
charges nothing. A cancelled request (the client left) is charged nothing either: whether the
upstream finished is unknown, and the ledger must never charge for what nobody received.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Literal, TypeVar

from unigate.accounts import scopes
from unigate.accounts.store import ApiKey
from unigate.catalog.spec import ModelSpec, UnitPrice
from unigate.core.files import Downloader, MediaStore, StoredFile
from unigate.core.gateway import Call, Charge, Gateway, authorize
from unigate.core.media import (
    Blob,
    GeneratedImage,
    ImageRequest,
    OcrRequest,
    OcrResult,
    SpeechAudio,
    SpeechRequest,
    Transcript,
    TranscriptionRequest,
)
from unigate.core.services import Modality
from unigate.errors import InvalidRequest, ModelNotFound, ModelUnavailable
from unigate.limits.window import Admission
from unigate.observability import events
from unigate.primitives.records import record

__all__ = ["MAX_PAGES", "DeliveredImage", "MediaGateway", "SpeechSession"]

log = logging.getLogger("unigate.media")

MAX_PAGES = 1000
"""Pages reserved for an OCR document when the request names none (Mistral's documented limit per
document); ``pages`` reserves only those."""

TYPES: dict[Modality, tuple[frozenset[str], str]] = {
    Modality.IMAGES: (frozenset({"image"}), "POST /v1/images/generations"),
    Modality.SPEECH: (frozenset({"tts", "voice-chat"}), "POST /v1/tts or /v1/audio/speech"),
    Modality.TRANSCRIPTION: (frozenset({"stt"}), "POST /v1/stt/create or /v1/audio/transcriptions"),
    Modality.OCR: (frozenset({"ocr"}), "POST /v1/ocr"),
    Modality.VIDEO: (frozenset({"video"}), "POST /v2/video/generations"),
    Modality.MUSIC: (frozenset({"music"}), "POST /v2/generate/audio"),
    Modality.THREE_D: (frozenset({"3d"}), "POST /v2/generate/3d"),
}
"""The catalog types each modality serves, and where to send the others (named in the 400)."""

ENDPOINT_OF_TYPE = {t: endpoint for types, endpoint in TYPES.values() for t in types} | {
    "chat-completion": "POST /v1/chat/completions",
    "embedding": "POST /v1/embeddings",
}

T = TypeVar("T")


@record
class DeliveredImage:
    """One image as the client gets it: a stored file (its URL is rendered by the API) or inline."""

    file: StoredFile | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class SpeechSession:
    """A speech answer in flight: ``chunks()`` streams it and settles when it ends; ``fail()``
    settles at nothing a session whose audio could not be delivered (stored), ``close()`` one
    that was never streamed. Exactly one settlement whatever happens."""

    def __init__(self, flow: MediaGateway, call: Call, audio: SpeechAudio, charge: Charge, owner: str) -> None:
        self._flow, self._call, self.audio, self.charge = flow, call, audio, charge
        self.owner = owner
        """The account the audio belongs to, when it is stored."""
        self._settled = False

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        status, sent = "error", False
        try:
            async for chunk in self.audio.chunks:
                sent = True
                yield chunk
            status = "ok"
        except GeneratorExit:
            status = "cancelled"  # the client left: the audio it got was generated
            raise
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        finally:
            # An upstream that fails mid-way leaves a truncated file: not charged.
            await self._settle(self.charge.credits if sent and status != "error" else 0, status)

    async def close(self) -> None:
        await self._settle(0, "cancelled")

    async def fail(self) -> None:
        await self._settle(0, "error")

    async def _settle(self, credits: int, status: str) -> None:
        if self._settled:
            return
        self._settled = True
        try:
            await self._flow.gateway.settle(self._call, credits, status)
        finally:
            aclose = getattr(self.audio.chunks, "aclose", None)
            if aclose is not None:
                await aclose()


class MediaGateway:
    """The media flow over a ``Gateway`` (its catalog, services, store and limiter), with the
    media store for generated files and the downloader for URLs."""

    def __init__(self, gateway: Gateway, files: MediaStore, downloader: Downloader, *, max_download_bytes: int):
        self.gateway = gateway
        self.files = files
        self.downloader = downloader
        self.max_download_bytes = max_download_bytes

    # -- models ---------------------------------------------------------------------------------

    def model(self, name: str, modality: Modality) -> ModelSpec:
        """The catalog model ``name``, checked to be one that ``modality`` serves and that can run."""
        spec = self.gateway.catalog.resolve(name)
        types, _ = TYPES[modality]
        if spec.type not in types:
            endpoint = ENDPOINT_OF_TYPE.get(spec.type, "its own endpoint")
            raise InvalidRequest(
                f"The model {spec.id!r} is of type {spec.type!r}: use {endpoint}.",
                param="model",
                code="model_not_supported",
            )
        if spec.deprecated:
            raise ModelNotFound(
                f"The model {spec.id!r} has been deprecated and is no longer served. GET /models lists the current "
                "models.",
                param="model",
                code="model_deprecated",
            )
        if spec.unavailable or not spec.provider:
            reason = (spec.unavailable or "no upstream with a public API serves it").rstrip(".")
            raise ModelUnavailable(f"The model {spec.id!r} cannot be called on this server: {reason}.", param="model")
        return spec

    def serving(self, name: str, modality: Modality, find: Callable[[str], T | None]) -> tuple[ModelSpec, T]:
        """The model ``name`` and the object ``find`` gives for its provider (``Services.images``...)."""
        spec = self.model(name, modality)
        found = find(spec.provider)
        if found is None:
            raise ModelUnavailable(
                f"The provider {spec.provider!r} of {spec.id!r} does not serve this model's type on this server.",
                param="model",
            )
        return spec, found

    @staticmethod
    def price(spec: ModelSpec) -> UnitPrice:
        if spec.unit_price is None:
            # A catalog entry without a price would run for free: refuse rather than give it away.
            raise ModelUnavailable(f"The model {spec.id!r} has no price on this server.", param="model")
        return spec.unit_price

    async def begin(self, key: ApiKey, spec: ModelSpec, worst: int, admission: Admission | None) -> Call:
        events.media_request(spec.id)
        await self.gateway.admit(key, 0, admission)
        return await self.gateway.reserve(key, spec, worst)

    @asynccontextmanager
    async def _nothing_if_it_fails(self, call: Call) -> AsyncIterator[None]:
        """Settle ``call`` at nothing when the block fails or is cancelled (see the module)."""
        try:
            yield
        except asyncio.CancelledError:
            await self.gateway.settle(call, 0, "cancelled")
            raise
        except BaseException as exc:
            events.upstream_failed(call.spec.provider, exc)
            await self.gateway.settle(call, 0, "error")
            raise

    async def _run(self, call: Call, run: Callable[[], Awaitable[T]], cost: Callable[[T], int]) -> tuple[T, Charge]:
        """``run()``'s result and its settled charge (``cost`` of it); nothing when it failed or
        was cancelled."""
        async with self._nothing_if_it_fails(call):
            result = await run()
        return result, await self.gateway.settle(call, cost(result), "ok")

    # -- images ---------------------------------------------------------------------------------

    async def images(
        self,
        request: ImageRequest,
        key: ApiKey,
        *,
        response_format: Literal["url", "b64_json"] = "url",
        admission: Admission | None = None,
    ) -> tuple[list[DeliveredImage], Charge]:
        """Generate ``request.count`` images for ``key`` and deliver them as ``response_format``."""
        authorize(key, scopes.IMAGE)
        spec, generator = self.serving(request.model, Modality.IMAGES, self.gateway.services.images)
        generator.check_image(request, spec)
        price = self.price(spec)
        variant = f"{request.quality or '*'}:{request.size or '*'}"
        call = await self.begin(key, spec, price.cost(request.count, variant), admission)
        stored: list[StoredFile] = []

        async def run() -> list[DeliveredImage]:
            try:
                result = await generator.generate(request, spec)
                owner = str(key.account_id)
                return [await self._deliver(image, owner, response_format, stored) for image in result.images]
            except BaseException:
                await self.forget(stored)
                raise

        return await self._run(call, run, lambda images: price.cost(len(images), variant))

    async def _deliver(
        self, image: GeneratedImage, owner: str, response_format: str, stored: list[StoredFile]
    ) -> DeliveredImage:
        blob = image.blob
        if blob is None:
            if image.url is None:
                raise InvalidRequest("The upstream returned an image without data or URL.")
            blob = await self.download(image.url)
        if response_format == "b64_json":
            return DeliveredImage(b64_json=base64.b64encode(blob.data).decode(), revised_prompt=image.revised_prompt)
        file = await self.files.put(owner, blob)
        stored.append(file)
        return DeliveredImage(file=file, revised_prompt=image.revised_prompt)

    async def forget(self, stored: list[StoredFile]) -> None:
        for file in stored:
            try:
                await self.files.delete(file.id)
            except Exception:  # the sweep removes it at the end of its retention
                log.warning("could not delete %s after a failed request", file.id, exc_info=True)

    async def download(self, url: str) -> Blob:
        """A URL's body (an upstream's result or a client's input), vetted and size-limited."""
        return await self.downloader.download(url, max_bytes=self.max_download_bytes)

    # -- speech ---------------------------------------------------------------------------------

    async def speak(self, request: SpeechRequest, key: ApiKey, *, admission: Admission | None = None) -> SpeechSession:
        """Start speaking ``request.text``; the session streams the audio and settles once."""
        authorize(key, scopes.SPEECH)
        spec, speaker = self.serving(request.model, Modality.SPEECH, self.gateway.services.speaker)
        speaker.check_speech(request, spec)
        credits = self.price(spec).cost(len(request.text))
        call = await self.begin(key, spec, credits, admission)
        async with self._nothing_if_it_fails(call):  # once audio flows, the session settles
            audio = await speaker.speak(request, spec)
        return SpeechSession(self, call, audio, Charge(credits), str(key.account_id))

    # -- transcription --------------------------------------------------------------------------

    async def transcribe(
        self, request: TranscriptionRequest, key: ApiKey, *, admission: Admission | None = None
    ) -> tuple[Transcript, Charge]:
        """Transcribe (or translate) ``request.audio``, charged by its duration."""
        authorize(key, scopes.AUDIO)
        spec, transcriber = self.serving(request.model, Modality.TRANSCRIPTION, self.gateway.services.transcriber)
        transcriber.check_transcription(request, spec)
        credits = self.price(spec).cost(request.duration_s)
        call = await self.begin(key, spec, credits, admission)
        return await self._run(call, lambda: transcriber.transcribe(request, spec), lambda _: credits)

    # -- OCR ------------------------------------------------------------------------------------

    async def ocr(
        self, request: OcrRequest, key: ApiKey, *, admission: Admission | None = None
    ) -> tuple[OcrResult, Charge]:
        """Read ``request.document``, charged by the pages read."""
        authorize(key, scopes.OCR)
        spec, reader = self.serving(request.model, Modality.OCR, self.gateway.services.ocr)
        reader.check_ocr(request, spec)
        price = self.price(spec)
        bound = len(request.pages) if request.pages is not None else 1 if request.kind == "image" else MAX_PAGES
        call = await self.begin(key, spec, price.cost(bound), admission)
        return await self._run(call, lambda: reader.read(request, spec), lambda r: price.cost(min(len(r.pages), bound)))
