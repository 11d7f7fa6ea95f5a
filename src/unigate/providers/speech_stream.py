"""Audio as the speech adapters hand it back: ``SpeechAudio`` with its first chunk already read,
the media type of each format, and audio that arrived whole cut into pieces.

``SpeechAudio`` promises that a failure before any audio is a typed error, never a 200 that stops
short: ``speech_audio`` reads the first chunk before returning, and closing what it returns
closes the upstream exchange, which is how an upstream learns to stop generating.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from unigate.core.media import SpeechAudio
from unigate.errors import UpstreamError

__all__ = ["AUDIO_TYPES", "PIECE_BYTES", "in_pieces", "speech_audio"]

AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
    "mulaw": "audio/basic",
    "alaw": "audio/x-alaw-basic",
}
"""The media type of each audio format an adapter may return."""

PIECE_BYTES = 64 * 1024
"""How audio that arrived whole (hex or base64 in JSON) is handed on: in pieces of this size."""


async def speech_audio(
    provider: str, chunks: AsyncGenerator[bytes, None], audio_format: str, content_type: str | None = None
) -> SpeechAudio:
    """``chunks`` as ``SpeechAudio`` once its first chunk is in; a failure until then is raised
    here (and the exchange closed). ``content_type`` defaults to the format's."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        await chunks.aclose()
        raise UpstreamError(f"The {provider} provider answered without any audio.") from None
    except BaseException:
        await chunks.aclose()
        raise
    media_type = content_type or AUDIO_TYPES.get(audio_format, "application/octet-stream")
    return SpeechAudio(media_type, _resumed(first, chunks), audio_format)


async def _resumed(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


async def in_pieces(data: bytes, size: int = PIECE_BYTES) -> AsyncGenerator[bytes, None]:
    """Audio that arrived whole, in pieces of ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
