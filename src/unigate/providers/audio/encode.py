"""Mono 16-bit PCM into the containers speech is asked in, chunk by chunk as it is generated.

``encoder(format, sample_rate)`` gives a ``StreamEncoder``: ``feed`` takes the next samples and
returns the bytes ready so far (possibly none: a codec holds back a frame's worth), ``finish``
returns the rest. The formats are OpenAI's ``response_format`` values:

- ``wav``: a RIFF header whose sizes say "unknown" (``0xFFFFFFFF``, what FFmpeg writes to a
  pipe), then the samples: the length is not known when the header goes out.
- ``pcm``: the raw samples, resampled to 24 kHz, since OpenAI defines ``pcm`` as 24 kHz 16-bit
  little-endian mono and clients play it at that rate without a header to say otherwise.
- ``mp3`` (LAME), ``opus`` (in Ogg), ``aac`` (ADTS), ``flac``: encoded with PyAV's FFmpeg, whose
  wheels carry these encoders; PyAV resamples to a rate the codec takes (Opus: 24 kHz).

Encoding is CPU work: callers run it off the event loop (the speaker in its worker thread).
"""

from __future__ import annotations

import functools
import io
import struct
from typing import Protocol

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream

from unigate.core.media import SPEECH_FORMATS

__all__ = ["FORMATS", "PCM_RATE", "StreamEncoder", "encodable", "encoder"]

Samples = npt.NDArray[np.int16]

FORMATS = frozenset(SPEECH_FORMATS)
PCM_RATE = 24_000
"""The rate of ``pcm`` output, OpenAI's."""

# format -> (FFmpeg muxer, encoder, bit rate, codec sample rate or None to keep the input's)
_CODECS: dict[str, tuple[str, str, int, int | None]] = {
    "mp3": ("mp3", "libmp3lame", 64_000, None),
    "opus": ("ogg", "libopus", 32_000, 24_000),
    "aac": ("adts", "aac", 64_000, None),
    "flac": ("flac", "flac", 0, None),
}


class StreamEncoder(Protocol):
    def feed(self, samples: Samples) -> bytes:
        """Encode the next mono int16 samples; the bytes complete so far."""
        ...

    def finish(self) -> bytes:
        """Flush the codec; the last bytes. Nothing may be fed after."""
        ...

    def close(self) -> None:
        """Release the codec (idempotent; after ``finish`` or instead of it, when abandoned)."""
        ...


@functools.cache
def encodable() -> frozenset[str]:
    """The formats this installation can produce: every one whose FFmpeg encoder PyAV carries."""
    found = {"wav", "pcm"}
    for name, (_, codec, _, _) in _CODECS.items():
        try:
            av.codec.Codec(codec, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
        found.add(name)
    return frozenset(found)


def encoder(format: str, sample_rate: int) -> StreamEncoder:
    """A streaming encoder of mono int16 samples at ``sample_rate`` into ``format`` (one of
    ``encodable()``; ``ValueError`` otherwise)."""
    if format == "wav":
        return _Wav(sample_rate)
    if format == "pcm":
        return _Pcm(sample_rate)
    if format not in encodable():
        raise ValueError(f"cannot encode {format!r} here")
    return _Container(format, sample_rate)


def wav_header(sample_rate: int, *, data_bytes: int = 0xFFFFFFFF) -> bytes:
    """A canonical 44-byte header of mono 16-bit PCM; the default sizes say "unknown length"."""
    riff = 0xFFFFFFFF if data_bytes == 0xFFFFFFFF else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class _Wav:
    def __init__(self, sample_rate: int) -> None:
        self._header: bytes | None = wav_header(sample_rate)

    def feed(self, samples: Samples) -> bytes:
        head, self._header = self._header or b"", None
        return head + samples.astype("<i2", copy=False).tobytes()

    def finish(self) -> bytes:
        head, self._header = self._header or b"", None
        return head

    def close(self) -> None:
        pass


class _Pcm:
    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._resampler = (
            None if sample_rate == PCM_RATE else av.AudioResampler(format="s16", layout="mono", rate=PCM_RATE)
        )

    def feed(self, samples: Samples) -> bytes:
        if self._resampler is None:
            return samples.astype("<i2", copy=False).tobytes()
        return self._resample(_frame(samples, self._rate))

    def finish(self) -> bytes:
        return b"" if self._resampler is None else self._resample(None)

    def _resample(self, frame: av.AudioFrame | None) -> bytes:
        assert self._resampler is not None
        return b"".join(f.to_ndarray().astype("<i2", copy=False).tobytes() for f in self._resampler.resample(frame))

    def close(self) -> None:
        self._resampler = None


class _Sink(io.RawIOBase):
    """Where the muxer writes: the bytes wait here until the encoder hands them out. It is not
    seekable, so muxers write as they go (FLAC's header keeps "length unknown")."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


class _Container:
    def __init__(self, format: str, sample_rate: int) -> None:
        muxer, codec, bit_rate, codec_rate = _CODECS[format]
        self._rate = sample_rate
        self._sink = _Sink()
        # A small I/O buffer: what the muxer writes reaches the sink (and the client) per feed.
        self._output = av.open(self._sink, "w", format=muxer, buffer_size=4096)
        stream = self._output.add_stream(codec, rate=codec_rate or sample_rate, layout="mono")
        assert isinstance(stream, AudioStream)
        self._stream = stream
        if bit_rate:
            self._stream.bit_rate = bit_rate
        self._closed = False

    def feed(self, samples: Samples) -> bytes:
        for packet in self._stream.encode(_frame(samples, self._rate)):
            self._output.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        for packet in self._stream.encode(None):
            self._output.mux(packet)
        self.close()
        return self._sink.take()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._output.close()


def _frame(samples: Samples, rate: int) -> av.AudioFrame:
    mono = np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(mono, format="s16", layout="mono")
    frame.sample_rate = rate
    return frame
