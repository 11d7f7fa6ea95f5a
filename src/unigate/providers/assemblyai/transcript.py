"""AssemblyAI's transcript object as a canonical ``Transcript`` (its times are milliseconds), and
the service's fields as the body of ``POST /v2/transcript``.

The service's AssemblyAI fields are AssemblyAI's, but for ``word_boost`` (custom vocabulary),
which AssemblyAI has replaced with ``keyterms_prompt``; ``boost_param`` (how much to boost it)
has no successor and is not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.core.media import Segment, Transcript, TranscriptionRequest, Word

__all__ = ["transcript", "transcript_body"]

_RENAMED = {"word_boost": "keyterms_prompt"}
_DROPPED = frozenset({"model", "url", "audio", "file", "stream", "boost_param"})


def transcript_body(request: TranscriptionRequest, upstream: str, audio_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {"audio_url": audio_url, "speech_models": [upstream]}
    if request.language:
        body["language_code"] = request.language
    if request.prompt:
        body["prompt"] = request.prompt
    if request.temperature is not None:
        body["temperature"] = request.temperature
    for name, value in request.options.items():
        if name not in _DROPPED:
            body[_RENAMED.get(name, name)] = value
    return body


def _seconds(ms: Any) -> float:
    return ms / 1000 if isinstance(ms, (int, float)) and not isinstance(ms, bool) else 0.0


def _speaker(label: Any) -> int | None:
    # AssemblyAI labels speakers "A", "B", ...; the canonical word numbers them from 0.
    if isinstance(label, str) and len(label) == 1 and "A" <= label <= "Z":
        return ord(label) - ord("A")
    return None


def _confidence(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _words(items: Any) -> tuple[Word, ...]:
    return tuple(
        Word(
            str(w.get("text") or ""),
            _seconds(w.get("start")),
            _seconds(w.get("end")),
            _confidence(w.get("confidence")),
            _speaker(w.get("speaker")),
        )
        for w in (items if isinstance(items, list) else ())
        if isinstance(w, dict)
    )


def _segment(i: int, utterance: Mapping[str, Any]) -> Segment:
    start, end = _seconds(utterance.get("start")), _seconds(utterance.get("end"))
    return Segment(i, start, end, str(utterance.get("text") or ""), words=_words(utterance.get("words")))


def _segments(utterances: Any) -> tuple[Segment, ...]:
    items = [u for u in (utterances if isinstance(utterances, list) else ()) if isinstance(u, dict)]
    return tuple(_segment(i, u) for i, u in enumerate(items))


def transcript(answer: Mapping[str, Any]) -> Transcript:
    """A completed transcript, kept whole as ``native``."""
    duration = answer.get("audio_duration")
    return Transcript(
        text=str(answer.get("text") or ""),
        language=answer.get("language_code") or None,
        duration_s=float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None,
        segments=_segments(answer.get("utterances")),
        words=_words(answer.get("words")),
        native=dict(answer),
    )
