"""Audio files as the gateway handles them, with PyAV's FFmpeg: how long a client's file is
(``probe.py``, for the reservation of a transcription), its samples (``decode.py``), and speech
samples into the containers clients ask for, as they are generated (``encode.py``)."""

from unigate.providers.audio.decode import decode_mono
from unigate.providers.audio.encode import FORMATS, StreamEncoder, encodable, encoder
from unigate.providers.audio.probe import audio_duration, open_audio

__all__ = [
    "FORMATS",
    "StreamEncoder",
    "audio_duration",
    "decode_mono",
    "encodable",
    "encoder",
    "open_audio",
]
