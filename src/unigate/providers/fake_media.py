"""Deterministic media models for tests, beside the fake chat model (``UNIGATE_FAKE_MODELS=1``):
an image model that draws a solid PNG per image, a speech model that "speaks" silence in WAV
(a tenth of a second per character, in several chunks), a transcriber that answers with the
file's size and duration, and an OCR model that reads one page per page asked.

Prompts and texts drive the failure paths as for chat: ``FAIL`` raises an upstream error before
any output, ``FAIL-MIDSTREAM`` (speech) fails after the first chunk, ``URL`` (images) returns an
upstream URL (the gateway fetches and re-hosts it).
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator

from unigate.catalog.spec import ModelSpec, Price, UnitPrice
from unigate.core.media import (
    Blob,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    OcrPage,
    OcrRequest,
    OcrResult,
    Segment,
    SpeechAudio,
    SpeechRequest,
    Transcript,
    TranscriptionRequest,
    Word,
)
from unigate.errors import UpstreamError

__all__ = ["FAKE_MEDIA_MODELS", "FakeMedia", "fake_spec_of", "png", "wav_header"]

FAKE_URL = "https://fake-upstream.invalid/image.png"
"""What an image prompted ``URL`` is returned at (tests route the downloader there)."""

_SAMPLE_RATE = 16_000


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def wav_header(frames: int, rate: int = _SAMPLE_RATE) -> bytes:
    """The header of a mono 16-bit PCM WAV file of ``frames`` samples."""
    size = frames * 2
    return (
        b"RIFF"
        + struct.pack("<I", 36 + size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", size)
    )


def fake_spec_of(model_id: str, kind: str, endpoints: tuple[str, ...], price: UnitPrice) -> ModelSpec:
    """A deterministic test model of ``kind`` on the ``fake`` provider, priced per unit."""
    return ModelSpec(
        id=model_id,
        provider="fake",
        upstream_model=model_id.removeprefix("fake/"),
        price=Price(0, 0),
        type=kind,
        name=f"Fake {kind} model",
        developer="unigate",
        description=f"Deterministic {kind} test model.",
        url="https://example.invalid/fake",
        docs_url="https://example.invalid/fake",
        endpoints=endpoints,
        input_modalities=frozenset(),
        unit_price=price,
        price_source="configured",
    )


FAKE_MEDIA_MODELS = (
    fake_spec_of(
        "fake/image",
        "image",
        ("/v1/images/generations", "/v1/images/edits"),
        UnitPrice("image", 1_000 * 1_000_000, {"hd:*": 2_000 * 1_000_000}, source="configured"),
    ),
    fake_spec_of(
        "fake/speech",
        "tts",
        ("/v1/tts", "/v1/audio/speech"),
        UnitPrice("character", 10 * 1_000_000, source="configured"),
    ),
    fake_spec_of(
        "fake/transcribe",
        "stt",
        ("/v1/stt/create", "/v1/audio/transcriptions"),
        UnitPrice("second", 100 * 1_000_000, source="configured"),
    ),
    fake_spec_of("fake/ocr", "ocr", ("/v1/ocr",), UnitPrice("page", 500 * 1_000_000, source="configured")),
)
"""Priced in round credits: 1,000 per image (2,000 hd), 10 per character, 100 per second, 500 per page."""


class FakeMedia:
    """All four fake media models in one object (one provider serves several modalities)."""

    name = "fake"

    def __init__(self, *, chunk_delay_s: float = 0.0) -> None:
        self.chunk_delay_s = chunk_delay_s
        self.calls = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        return None

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        return None

    def check_transcription(self, request: TranscriptionRequest, model: ModelSpec) -> None:
        return None

    def check_ocr(self, request: OcrRequest, model: ModelSpec) -> None:
        return None

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        self.calls += 1
        if request.prompt == "FAIL":
            raise UpstreamError("The fake provider failed, as asked.")
        if request.prompt == "URL":
            return ImageResult(tuple(GeneratedImage(url=FAKE_URL) for _ in range(request.count)), model.upstream_model)
        width, height = 8, 8
        if request.size and "x" in request.size:
            w, _, h = request.size.partition("x")
            width, height = max(1, min(int(w or 8), 64)), max(1, min(int(h or 8), 64))
        images = tuple(
            GeneratedImage(
                blob=Blob(png(width, height, (i * 40 % 256, 40, 40)), "image/png"), revised_prompt=request.prompt
            )
            for i in range(request.count)
        )
        return ImageResult(images, model.upstream_model)

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        self.calls += 1
        if request.text == "FAIL":
            raise UpstreamError("The fake provider failed, as asked.")
        frames = len(request.text) * _SAMPLE_RATE // 10
        return SpeechAudio("audio/wav", self._silence(frames, fail=request.text == "FAIL-MIDSTREAM"), "wav")

    async def _silence(self, frames: int, *, fail: bool) -> AsyncIterator[bytes]:
        yield wav_header(frames)
        step = _SAMPLE_RATE // 4
        for start in range(0, frames, step):
            if fail:
                raise UpstreamError("The fake provider broke off mid-stream, as asked.")
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            yield b"\x00\x00" * min(step, frames - start)

    async def transcribe(self, request: TranscriptionRequest, model: ModelSpec) -> Transcript:
        self.calls += 1
        if request.prompt == "FAIL":
            raise UpstreamError("The fake provider failed, as asked.")
        duration = request.duration_s
        text = f"{len(request.audio.data)} bytes of audio"
        words = tuple(Word(w, i * duration / 4, (i + 1) * duration / 4) for i, w in enumerate(text.split()))
        return Transcript(text, "en", duration, (Segment(0, 0.0, duration, text),), words)

    async def read(self, request: OcrRequest, model: ModelSpec) -> OcrResult:
        self.calls += 1
        indexes = request.pages if request.pages is not None else (0,)
        pages = tuple(OcrPage(i, f"# Page {i}", (), {"dpi": 200, "height": 100, "width": 80}) for i in indexes)
        return OcrResult(
            pages, model.upstream_model, len(request.document.blob.data) if request.document.blob else None
        )
