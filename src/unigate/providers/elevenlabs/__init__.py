"""ElevenLabs: text to speech with its premade voices, by the names the service gives them."""

from unigate.providers.elevenlabs.speaker import ElevenLabsSpeaker

__all__ = ["ElevenLabsSpeaker"]
