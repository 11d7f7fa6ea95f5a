"""How long an audio file is, read from the file itself (the reservation of a transcription needs it
before any model runs), and the opening of a client's file that every reader here shares.

The length comes from the cheapest source that is exact:

1. the container's header, for the containers where it is a count and not a guess (WAV's data
   size, FLAC's sample count, Ogg's last granule, MP4's and Matroska's duration);
2. otherwise the packets' durations, summed without decoding (MP3 and ADTS frames each say how
   many samples they hold; FFmpeg's header estimate for them is the bit rate's, which VBR and a
   lying header make wrong);
3. otherwise the decoded samples, counted.

Anything FFmpeg cannot open, or opens with no audio stream (an image, a PDF, text), is an
``InvalidRequest`` on ``file``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import av
from av.audio.stream import AudioStream
from av.container import InputContainer

from unigate.core.media import Blob
from unigate.errors import InvalidRequest

__all__ = ["audio_duration", "open_audio"]

_EXACT_HEADERS = frozenset({"wav", "w64", "aiff", "caf", "flac", "ogg", "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"})
"""FFmpeg's names of the containers whose declared length is exact."""


def _not_audio(blob: Blob, reason: str) -> InvalidRequest:
    name = f" {blob.filename!r}" if blob.filename else ""
    return InvalidRequest(f"The file{name} is not audio this server can read ({reason}).", param="file")


@contextmanager
def open_audio(blob: Blob) -> Iterator[tuple[InputContainer, AudioStream]]:
    """``blob`` opened with FFmpeg and its first audio stream; ``InvalidRequest`` if it has none."""
    try:
        container = av.open(io.BytesIO(blob.data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise _not_audio(blob, "no known audio format") from exc
    with container:
        if not container.streams.audio:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise _not_audio(blob, f"{container.format.name} with {kinds}")
        try:
            yield container, container.streams.audio[0]
        except av.FFmpegError as exc:
            raise _not_audio(blob, f"unreadable {container.format.name} data") from exc


def audio_duration(blob: Blob) -> float:
    """Seconds of audio in ``blob`` (its first audio stream); see the module for how."""
    with open_audio(blob) as (container, stream):
        if container.format.name in _EXACT_HEADERS:
            declared = _declared(container, stream)
            if declared is not None:
                return declared
        summed = _packets(container, stream)
    if summed is not None:
        return summed
    with open_audio(blob) as (container, stream):
        return _decoded(container, stream)


def _declared(container: InputContainer, stream: AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _packets(container: InputContainer, stream: AudioStream) -> float | None:
    """The packets' durations summed; ``None`` when a packet does not say its own."""
    total = 0
    time_base = stream.time_base
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the flush packet demux ends with
        if packet.duration is None or packet.duration <= 0 or time_base is None:
            return None
        total += packet.duration
    return float(total * time_base) if time_base is not None else 0.0


def _decoded(container: InputContainer, stream: AudioStream) -> float:
    samples, rate = 0, stream.rate or 0
    for frame in container.decode(stream):
        samples += frame.samples
        rate = frame.sample_rate or rate
    if samples and not rate:
        raise InvalidRequest("The audio file does not say its sample rate.", param="file")
    return samples / rate if samples else 0.0
