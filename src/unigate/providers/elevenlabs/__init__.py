"""ElevenLabs: text to speech with its premade voices, by the names the service gives them
(``speaker.py``), and Eleven Music (``music.py``)."""

from unigate.providers.elevenlabs.music import ElevenLabsMusic
from unigate.providers.elevenlabs.speaker import ElevenLabsSpeaker

__all__ = ["ElevenLabsMusic", "ElevenLabsSpeaker"]
