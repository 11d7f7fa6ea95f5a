"""The requests and answers of OpenAI's audio endpoints.

* Speech, ``POST /audio/speech`` (https://platform.openai.com/docs/api-reference/audio/createSpeech):
  JSON in, the audio bytes out as they are generated. ``voice`` is required (``alloy``, the
  service's default, when the request names none); ``instructions`` only work with
  ``gpt-4o-mini-tts`` (the service's ``style`` field is mapped to them); ``stream_format: sse``
  is not used, since the bytes themselves stream.
* Transcription and translation, ``POST /audio/transcriptions`` and ``/audio/translations``
  (multipart): the upstream is always asked for the richest answer its model gives, and the
  gateway renders every ``response_format`` from it. ``whisper-1`` gives ``verbose_json`` (the
  language, the duration, segments, and words when ``timestamp_granularities[]`` asks; segment
  ones are asked always, as they cost no latency); the ``gpt-4o-*-transcribe`` models give only
  ``json`` (the text, and their token usage, which is not billed: audio is billed by the second).
  Translation into English is ``whisper-1``'s alone.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SPEECH_FORMATS, Blob, Segment, SpeechRequest, Transcript, TranscriptionRequest, Word
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.multipart import encode_multipart
from unigate.providers.openai_media.options import refuse_unmapped

__all__ = [
    "check_speech_request",
    "check_transcription_request",
    "speech_body",
    "transcript_of",
    "transcription_body",
]


DEFAULT_VOICE = "alloy"
_INSTRUCTED = "gpt-4o-mini-tts"
_SUFFIXES = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/m4a": ".m4a",
    "audio/x-m4a": ".m4a",
    "video/mp4": ".mp4",
    "audio/ogg": ".ogg",
    "audio/opus": ".ogg",
    "application/ogg": ".ogg",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/webm": ".webm",
    "video/webm": ".webm",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
}
"""The extension OpenAI knows for each audio type (it tells the format by the file's name)."""
_KNOWN_SUFFIXES = frozenset({".flac", ".mp3", ".mp4", ".mpeg", ".mpga", ".m4a", ".ogg", ".wav", ".webm"})


def _instructions(request: SpeechRequest) -> str | None:
    style = request.options.get("style")
    return request.instructions or (style if isinstance(style, str) and style else None)


def check_speech_request(request: SpeechRequest, model: ModelSpec, *, provider: str) -> None:
    refuse_unmapped(request.options, ("style",), provider=provider, model=model.id)
    if request.format not in SPEECH_FORMATS:
        formats = ", ".join(SPEECH_FORMATS)
        raise InvalidRequest(f"{model.id} speaks {formats}, not {request.format}.", param="response_format")
    if _instructions(request) is not None and not model.upstream_model.startswith(_INSTRUCTED):
        param = "instructions" if request.instructions else "style"
        raise InvalidRequest(f"{model.id} takes no {param}: only {_INSTRUCTED} does.", param=param)


def speech_body(request: SpeechRequest, model: ModelSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model.upstream_model,
        "input": request.text,
        "voice": request.voice or DEFAULT_VOICE,
        "response_format": request.format,
    }
    if request.speed is not None:
        body["speed"] = request.speed
    instructions = _instructions(request)
    if instructions is not None:
        body["instructions"] = instructions
    return body


def _verbose(model: ModelSpec) -> bool:
    return model.upstream_model.startswith("whisper")


def _temperature(request: TranscriptionRequest) -> float | None:
    # The service's STT endpoints leave the model's ``temperature`` among the options.
    if request.temperature is not None:
        return request.temperature
    return _number(request.options.get("temperature"))


def check_transcription_request(request: TranscriptionRequest, model: ModelSpec, *, provider: str) -> None:
    refuse_unmapped(request.options, ("temperature",), provider=provider, model=model.id)
    if request.task == "translate" and not _verbose(model):
        raise InvalidRequest(f"{model.id} does not translate; whisper models do.", param="model")


def _filename(audio: Blob) -> str:
    """The upload's name, with an extension OpenAI knows when the client's has none such."""
    stem, dot, suffix = audio.filename.rpartition(".")
    if dot and f".{suffix.lower()}" in _KNOWN_SUFFIXES:
        return audio.filename
    content_type = audio.content_type.split(";")[0].strip().lower()
    known = _SUFFIXES.get(content_type) or mimetypes.guess_extension(content_type) or ""
    return f"{stem if dot else audio.filename or 'audio'}{known}"


def transcription_body(request: TranscriptionRequest, model: ModelSpec) -> tuple[bytes, str]:
    """The multipart body and its ``Content-Type``."""
    fields: dict[str, str | list[str]] = {
        "model": model.upstream_model,
        "response_format": "verbose_json" if _verbose(model) else "json",
    }
    if request.language is not None and request.task == "transcribe":
        fields["language"] = request.language
    if request.prompt is not None:
        fields["prompt"] = request.prompt
    temperature = _temperature(request)
    if temperature is not None:
        fields["temperature"] = str(temperature)
    if _verbose(model) and request.task == "transcribe":
        fields["timestamp_granularities[]"] = sorted({"segment", *request.timestamps})
    upload = Blob(request.audio.data, request.audio.content_type, _filename(request.audio))
    return encode_multipart(fields, [("file", upload)])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _word(item: Any) -> Word | None:
    if not isinstance(item, dict) or not isinstance(item.get("word"), str):
        return None
    return Word(item["word"], _number(item.get("start")) or 0.0, _number(item.get("end")) or 0.0)


def _segment(position: int, item: Any) -> Segment | None:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return None
    identity = item.get("id")
    return Segment(
        id=identity if isinstance(identity, int) else position,
        start=_number(item.get("start")) or 0.0,
        end=_number(item.get("end")) or 0.0,
        text=item["text"],
        avg_logprob=_number(item.get("avg_logprob")),
        no_speech_prob=_number(item.get("no_speech_prob")),
    )


def transcript_of(data: Any, *, provider: str) -> Transcript:
    """A ``json`` or ``verbose_json`` answer as a ``Transcript``."""
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise UpstreamError(f"The {provider} provider answered without a transcript.")
    segments, words = data.get("segments"), data.get("words")
    segments = segments if isinstance(segments, list) else []
    words = words if isinstance(words, list) else []
    language = data.get("language")
    return Transcript(
        text=data["text"],
        language=language if isinstance(language, str) and language else None,
        duration_s=_number(data.get("duration")),
        segments=tuple(s for i, item in enumerate(segments) if (s := _segment(i, item)) is not None),
        words=tuple(w for item in words if (w := _word(item)) is not None),
    )
