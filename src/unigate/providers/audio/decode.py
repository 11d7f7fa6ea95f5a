"""A client's audio file as the samples a speech model reads: mono float32 at the model's rate.

Any container and codec FFmpeg reads (WAV, MP3, Ogg, WebM, M4A, FLAC...); frames FFmpeg finds
damaged are skipped, as faster-whisper's own decoder does, so that a recording with a bad frame
is still transcribed. CPU work: callers run it off the event loop.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt

from unigate.core.media import Blob
from unigate.providers.audio.probe import open_audio

__all__ = ["decode_mono"]


def decode_mono(blob: Blob, rate: int = 16_000) -> npt.NDArray[np.float32]:
    """The first audio stream of ``blob``, downmixed and resampled to ``rate``, in [-1, 1]."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    parts: list[npt.NDArray[np.int16]] = []
    with open_audio(blob) as (container, stream):
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except av.InvalidDataError:
                continue
            frame.pts = None  # resampled as one run: gaps or jumps in the timestamps do not matter
            parts.extend(np.asarray(f.to_ndarray(), dtype=np.int16).reshape(-1) for f in resampler.resample(frame))
        parts.extend(np.asarray(f.to_ndarray(), dtype=np.int16).reshape(-1) for f in resampler.resample(None))
    if not parts:
        return np.zeros(0, dtype=np.float32)
    samples = np.concatenate(parts).astype(np.float32)
    samples /= np.float32(32768.0)
    return samples
