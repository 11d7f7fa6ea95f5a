"""The shared audio helpers (``providers/audio``) on signals made here: a tone encoded into every
format comes back from FFmpeg with its length and its pitch, the length of a file is read the
cheap way where it is exact and counted where it is not, and what is not audio is a 400."""

from __future__ import annotations

import io
import struct
import zlib

import av
import numpy as np
import numpy.typing as npt
import pytest

from unigate.core.media import SPEECH_FORMATS, Blob
from unigate.errors import InvalidRequest
from unigate.providers.audio import audio_duration, decode_mono, encodable, encoder
from unigate.providers.audio.encode import PCM_RATE, wav_header

RATE = 22_050
TONE_HZ = 440.0


def tone(seconds: float, rate: int = RATE, hz: float = TONE_HZ) -> npt.NDArray[np.int16]:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * 12_000).astype(np.int16)


def encoded(format: str, samples: npt.NDArray[np.int16], pieces: int = 5) -> list[bytes]:
    """What the encoder hands out, one entry per ``feed`` and the last for ``finish``."""
    stream = encoder(format, RATE)
    out = [stream.feed(part) for part in np.array_split(samples, pieces)]
    out.append(stream.finish())
    stream.close()
    return out


def pitch(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_the_bundled_pyav_encodes_every_format() -> None:
    assert encodable() == frozenset(SPEECH_FORMATS)


# Codecs pad: LAME and AAC add up to a few frames of priming and tail (tens of milliseconds).
@pytest.mark.parametrize(
    ("format", "slack"), [("wav", 0.001), ("flac", 0.001), ("mp3", 0.12), ("opus", 0.03), ("aac", 0.12)]
)
def test_a_tone_survives_each_format(format: str, slack: float) -> None:
    chunks = encoded(format, tone(3.0))
    data = b"".join(chunks)
    assert chunks[0], "the first samples fed already give bytes to send"
    blob = Blob(data, SPEECH_FORMATS[format])
    assert 3.0 - 0.001 <= audio_duration(blob) <= 3.0 + slack
    samples = decode_mono(blob, 16_000)
    assert abs(len(samples) / 16_000 - 3.0) <= slack + 0.001
    assert abs(pitch(samples, 16_000) - TONE_HZ) < 3
    assert 0.2 < float(np.sqrt(np.mean(samples**2))) < 0.4  # 12000 / 32768 / sqrt(2) = 0.26
    with av.open(io.BytesIO(data), mode="r") as container:
        codec = container.streams.audio[0].codec_context.name
    assert codec.startswith({"wav": "pcm_s16le", "flac": "flac", "mp3": "mp3", "opus": "opus", "aac": "aac"}[format])


def test_wav_says_its_length_is_unknown_and_streams_the_samples() -> None:
    chunks = encoded("wav", tone(1.0), pieces=4)
    assert chunks[0][:44] == wav_header(RATE)
    riff, size, wave, fmt = struct.unpack("<4sI4s4s", chunks[0][:16])
    assert (riff, size, wave, fmt) == (b"RIFF", 0xFFFFFFFF, b"WAVE", b"fmt ")
    assert struct.unpack("<HHIIHH", chunks[0][20:36]) == (1, 1, RATE, RATE * 2, 2, 16)
    assert sum(len(c) for c in chunks) == 44 + RATE * 2
    assert all(chunks[:4])
    assert chunks[4] == b""


def test_pcm_is_24_khz_as_openai_defines_it() -> None:
    chunks = encoded("pcm", tone(2.0))
    data = b"".join(chunks)
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(32768)
    assert abs(len(samples) - 2 * PCM_RATE) <= 64
    assert abs(pitch(samples, PCM_RATE) - TONE_HZ) < 3
    already = tone(0.5, rate=PCM_RATE)
    stream = encoder("pcm", PCM_RATE)
    assert stream.feed(already) + stream.finish() == already.astype("<i2").tobytes()  # nothing to resample


class _Pipe(io.RawIOBase):
    """A non-seekable output, as a browser or a pipe gives: muxers cannot go back to fix headers."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        return len(data)


def _written(muxer: str, codec: str, samples: npt.NDArray[np.int16], rate: int, *, vbr: bool = False) -> bytes:
    pipe = _Pipe()
    with av.open(pipe, "w", format=muxer) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.audio.stream.AudioStream)
        if vbr:  # LAME's quality mode: each frame at the bit rate its sound needs
            stream.codec_context.qscale = True
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return b"".join(pipe.parts)


def test_a_container_without_its_length_is_measured_from_its_packets() -> None:
    # Opus in WebM written to a pipe, as a browser's MediaRecorder sends it: no Duration element.
    data = _written("webm", "libopus", tone(2.5, 48_000), 48_000)
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.duration is None
    assert abs(audio_duration(Blob(data, "audio/webm")) - 2.5) < 0.03


def test_mp3_is_measured_from_its_frames_not_its_bit_rate() -> None:
    # Silence then noise, VBR: FFmpeg's estimate from the first frame's bit rate is far off.
    noise = np.random.default_rng(3).standard_normal(RATE * 3) * 9000
    samples = np.concatenate([np.zeros(RATE * 4), noise]).clip(-32768, 32767).astype(np.int16)
    data = _written("mp3", "libmp3lame", samples, RATE, vbr=True)
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.duration is not None
        assert container.duration / av.time_base > 10.5
    decoded = decode_mono(Blob(data, "audio/mpeg"))
    assert abs(audio_duration(Blob(data, "audio/mpeg")) - len(decoded) / 16_000) < 0.01
    assert 7.0 <= audio_duration(Blob(data, "audio/mpeg")) < 7.1


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(b"\0\0\0\0")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is a text file, not a recording\n" * 40,
        b'{"file": "speech.mp3"}',
        b"%PDF-1.7\n" + bytes(range(256)) * 8,
        _png(),
        np.random.default_rng(1).integers(0, 256, 40_000, dtype=np.uint8).tobytes(),
    ],
    ids=["empty", "text", "json", "pdf", "png", "random"],
)
def test_what_is_not_audio_is_a_400_on_file(data: bytes) -> None:
    for read in (audio_duration, decode_mono):
        with pytest.raises(InvalidRequest) as caught:
            read(Blob(data, "audio/mpeg", "speech.mp3"))
        assert caught.value.param == "file"
        assert "'speech.mp3' is not audio" in str(caught.value)


def test_an_empty_recording_lasts_zero_seconds() -> None:
    data = wav_header(16_000, data_bytes=0)
    assert audio_duration(Blob(data, "audio/wav")) == 0.0
    assert len(decode_mono(Blob(data, "audio/wav"))) == 0


def test_decoding_downmixes_and_resamples() -> None:
    left, right = tone(1.0, 44_100, 440.0), tone(1.0, 44_100, 440.0)
    stereo = np.stack([left, right], axis=1).reshape(-1)
    data = (
        b"RIFF"
        + struct.pack("<I", 36 + stereo.nbytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 2, 44_100, 44_100 * 4, 4, 16)
        + b"data"
        + struct.pack("<I", stereo.nbytes)
        + stereo.tobytes()
    )
    samples = decode_mono(Blob(data, "audio/wav"))
    assert samples.dtype == np.float32
    assert abs(len(samples) - 16_000) <= 16
    assert abs(pitch(samples, 16_000) - 440.0) < 3
