"""A canonical ``Transcript`` in the formats OpenAI's ``response_format`` names (``json``,
``text``, ``srt``, ``verbose_json``, ``vtt``), and as the service's STT poll ``output``."""

from __future__ import annotations

from typing import Any

from unigate.core.media import Segment, Transcript

__all__ = ["FORMATS", "output_of", "srt", "verbose_json", "vtt"]

FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


def _segments(transcript: Transcript) -> tuple[Segment, ...]:
    """The transcript's segments; one spanning the whole audio when the model gives none."""
    if transcript.segments:
        return transcript.segments
    if not transcript.text:
        return ()
    end = transcript.duration_s or (transcript.words[-1].end if transcript.words else 0.0)
    return (Segment(0, 0.0, end, transcript.text),)


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text.strip()}\n"
        for i, s in enumerate(_segments(transcript), 1)
    ]
    return "\n".join(blocks)


def vtt(transcript: Transcript) -> str:
    cues = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text.strip()}\n" for s in _segments(transcript)]
    return "WEBVTT\n\n" + "\n".join(cues)


def _word(word: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"word": word.word, "start": word.start, "end": word.end}
    if word.confidence is not None:
        out["confidence"] = word.confidence
    if word.speaker is not None:
        out["speaker"] = word.speaker
    return out


def verbose_json(transcript: Transcript, *, task: str, words: bool, segments: bool = True) -> dict[str, Any]:
    """OpenAI's ``verbose_json``: ``words`` only when asked for (``timestamp_granularities``)."""
    out: dict[str, Any] = {
        "task": task,
        "language": transcript.language or "",
        "duration": transcript.duration_s or 0.0,
        "text": transcript.text,
    }
    if segments:
        out["segments"] = [
            {
                "id": s.id,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "avg_logprob": s.avg_logprob if s.avg_logprob is not None else 0.0,
                "no_speech_prob": s.no_speech_prob if s.no_speech_prob is not None else 0.0,
                "temperature": 0.0,
                "compression_ratio": 0.0,
                "tokens": [],
                "seek": 0,
            }
            for s in _segments(transcript)
        ]
    if words:
        out["words"] = [_word(w) for w in transcript.words]
    return out


def output_of(transcript: Transcript) -> Any:
    """The service's STT ``output``: the provider's own answer when it has one (Deepgram's
    ``{metadata, results}``, an AssemblyAI transcript), else OpenAI's verbose shape."""
    if transcript.native is not None:
        return transcript.native
    return verbose_json(transcript, task="transcribe", words=bool(transcript.words))
