"""Deepgram pre-recorded speech to text: ``POST /v1/listen?model=...&<features>`` with the audio
bytes as the body, answered with ``{metadata, results: {channels: [{alternatives: [...]}]}}``.
Nova-2's variants and Deepgram's hosted Whisper (``whisper-tiny`` ... ``whisper-large``) answer
the same way.

The service's field names are Deepgram's query parameters, but for two older spellings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from unigate.core.media import Segment, Transcript, TranscriptionRequest, Word

__all__ = ["listen_params", "transcript"]

_RENAMED = {"multi_channel": "multichannel", "detect_topics": "topics"}
"""The reference's spellings that Deepgram's listen API names otherwise."""

_CARRIED = frozenset({"model", "url", "audio", "file", "stream"})
"""Fields the request carries elsewhere (the audio is the body)."""


def listen_params(request: TranscriptionRequest, upstream: str) -> dict[str, Any]:
    params: dict[str, Any] = {"model": upstream, "language": request.language}
    if "segment" in request.timestamps:
        params["utterances"] = True  # Deepgram's segments
    for name, value in request.options.items():
        if name not in _CARRIED:
            params[_RENAMED.get(name, name)] = value
    return params


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _optional(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _words(items: Any) -> tuple[Word, ...]:
    words = []
    for w in items if isinstance(items, list) else ():
        if isinstance(w, dict):
            speaker = w.get("speaker")
            words.append(
                Word(
                    str(w.get("punctuated_word") or w.get("word") or ""),
                    _number(w.get("start")),
                    _number(w.get("end")),
                    _optional(w.get("confidence")),
                    speaker if isinstance(speaker, int) and not isinstance(speaker, bool) else None,
                )
            )
    return tuple(words)


def _segment(i: int, utterance: Mapping[str, Any]) -> Segment:
    start, end = _number(utterance.get("start")), _number(utterance.get("end"))
    return Segment(i, start, end, str(utterance.get("transcript") or ""), words=_words(utterance.get("words")))


def _segments(utterances: Any) -> tuple[Segment, ...]:
    items: Sequence[Any] = utterances if isinstance(utterances, list) else ()
    return tuple(_segment(i, u) for i, u in enumerate(u for u in items if isinstance(u, dict)))


def transcript(answer: Any, request: TranscriptionRequest) -> Transcript:
    """The first channel's best alternative, with Deepgram's answer kept as ``native``."""
    answer = answer if isinstance(answer, dict) else {}
    results: Mapping[str, Any] = answer.get("results") or {}
    channels = [c for c in results.get("channels") or () if isinstance(c, dict)]
    channel: Mapping[str, Any] = channels[0] if channels else {}
    alternatives = [a for a in channel.get("alternatives") or () if isinstance(a, dict)]
    best: Mapping[str, Any] = alternatives[0] if alternatives else {}
    metadata: Mapping[str, Any] = answer.get("metadata") or {}
    return Transcript(
        text=str(best.get("transcript") or ""),
        language=channel.get("detected_language") or request.language,
        duration_s=_optional(metadata.get("duration")),
        segments=_segments(results.get("utterances")),
        words=_words(best.get("words")),
        native=answer,
    )
