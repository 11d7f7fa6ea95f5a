"""The canonical media requests and results: images, speech, transcription, OCR.

Every media endpoint (the service's own shapes and OpenAI's) parses into one of these requests,
and every provider translates them into its upstream's wire format and its answer back. What a
request carries beyond the common fields is in ``options``, under the service's documented field
names, already validated against the model's reference schema (``catalog/fields.py``): a provider
maps the ones its upstream knows and never sees one the model does not accept.

Files a client sends are ``Blob``s (bytes and their type); a URL a client supplies is a ``Source``
with ``url`` set, vetted and fetched only through ``providers/fetch.py``. Files a provider returns
are ``Blob``s or upstream URLs: the gateway stores both in the media store and answers with its
own URL, so a client never depends on an upstream link that expires.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from unigate.primitives.records import record

__all__ = [
    "SPEECH_FORMATS",
    "Blob",
    "GeneratedImage",
    "ImageRequest",
    "ImageResult",
    "OcrPage",
    "OcrRequest",
    "OcrResult",
    "Segment",
    "Source",
    "SpeechAudio",
    "SpeechRequest",
    "Transcript",
    "TranscriptionRequest",
    "Word",
]

_NO_OPTIONS: Mapping[str, Any] = {}

SPEECH_FORMATS: Mapping[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
"""The formats a ``SpeechRequest`` may ask for (OpenAI's ``response_format`` values) and the type
of their bytes: ``opus`` is Opus in Ogg, ``pcm`` raw 24 kHz 16-bit little-endian mono (no
registered type names it exactly)."""


@record
class Blob:
    """A file's bytes and their media type (``image/png``, ``audio/wav``, ``application/pdf``)."""

    data: bytes
    content_type: str
    filename: str = ""


@record
class Source:
    """An input file: its bytes, or a public URL (``http(s)``; a ``data:`` URI is decoded into
    ``blob`` at the edge). Exactly one of the two is set."""

    blob: Blob | None = None
    url: str | None = None


# -- images ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One image generation or edit. ``count`` is OpenAI's ``n`` or the service's ``num_images``;
    ``size`` is ``"WIDTHxHEIGHT"``, a named size of the model's enum (``landscape_4_3``) or
    ``"auto"``; ``images`` are the inputs of an edit or image-to-image model, ``mask`` an edit's."""

    model: str
    prompt: str | None
    count: int = 1
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None
    """``png``, ``jpeg``, ``webp``: the model's own field when it has one."""
    images: tuple[Source, ...] = ()
    mask: Source | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)
    """Every other field the model accepts (``seed``, ``negative_prompt``, ``style``, ...)."""
    edit: bool = False
    """Arrived on ``/v1/images/edits``."""
    user: str | None = None


@record
class GeneratedImage:
    """One image as the upstream returned it: inline bytes, or a URL where it holds them."""

    blob: Blob | None = None
    url: str | None = None
    revised_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ImageResult:
    images: tuple[GeneratedImage, ...]
    model: str = ""
    """As the upstream reports it."""
    seed: int | None = None


# -- speech ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    """Text to speech. ``format`` is the container asked for (``mp3``, ``wav``, ``opus``, ``aac``,
    ``flac``, ``pcm``); ``voice`` is the model's voice name, or ``None`` for its default."""

    model: str
    text: str
    voice: str | None = None
    format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)


@dataclass(slots=True)
class SpeechAudio:
    """Speech as it is generated: the first chunk is ready (the upstream answered 200, or the
    local model produced it) when a provider returns this, so a failure before any audio is an
    error with its status, never a truncated 200. Closing ``chunks`` stops the generation."""

    content_type: str
    chunks: AsyncIterator[bytes]
    format: str
    """What ``chunks`` holds (``mp3``, ``wav``...): the asked one unless the model cannot make it."""


# -- transcription --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """Speech to text. The audio is always bytes here: the gateway fetches a client's URL first,
    since the reservation needs the duration (``duration_s``, read from the file)."""

    model: str
    audio: Blob
    duration_s: float
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    timestamps: frozenset[Literal["segment", "word"]] = frozenset()
    """Granularities asked for (``verbose_json``); providers give what they can."""
    options: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)


@record
class Word:
    word: str
    start: float
    end: float
    confidence: float | None = None
    speaker: int | None = None


@record
class Segment:
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    duration_s: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    native: Any = None
    """The provider's own answer (Deepgram's ``{metadata, results}``, an AssemblyAI transcript),
    which ``GET /v1/stt/{id}`` returns as the service does; ``None``: rendered from the fields."""


# -- OCR ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OcrRequest:
    model: str
    document: Source
    kind: Literal["document", "image"] = "document"
    pages: tuple[int, ...] | None = None
    """Zero-based page indexes to read; ``None``: all."""
    include_image_base64: bool = False
    options: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)


@dataclass(frozen=True, slots=True)
class OcrPage:
    index: int
    markdown: str
    images: tuple[Mapping[str, Any], ...] = ()
    """Mistral's image objects (``id``, coordinates, ``image_base64`` when asked)."""
    dimensions: Mapping[str, Any] | None = None
    """``{dpi, height, width}``."""


@dataclass(frozen=True, slots=True)
class OcrResult:
    pages: tuple[OcrPage, ...]
    model: str = ""
    doc_size_bytes: int | None = None
    native: Any = None
    """The upstream's own answer for models whose shape is not Mistral's (rendered as is)."""
