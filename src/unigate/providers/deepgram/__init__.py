"""Deepgram: Aura text to speech, and Nova and hosted Whisper speech to text."""

from unigate.providers.deepgram.provider import DeepgramProvider

__all__ = ["DeepgramProvider"]
