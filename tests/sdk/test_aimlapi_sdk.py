"""The AI/ML API's own Python SDK (``aimlapi-sdk-python``), unchanged, against the gateway: its
images, speech, transcription and video resources on the fake models (and, in
tests/providers/test_speech_local.py's round trip, on the embedded speech models). Its chat,
embeddings, models and account calls are in the other modules of this folder; how the SDK is run
(apart, in a subprocess) is in ``runner.py``.
"""

from __future__ import annotations

from pathlib import Path

import httpx2

from tests.media_emulator import Emulator
from tests.sdk.runner import sdk
from tests.serving import Server
from unigate.providers.fake_media import wav_header


def test_images_generate(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    urls = sdk(server, key, "images", "fake/image")["urls"]
    assert len(urls) == 1
    assert httpx2.get(urls[0]).content.startswith(b"\x89PNG")
    heads = sdk(server, key, "images_b64", "fake/image")["heads"]
    assert heads == [b"\x89PNG\r\n\x1a\n".hex()]
    assert server.balance(account) == 1_000_000 - 2_000


def test_speech_create_downloads_the_audio(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    audio = sdk(server, key, "speech", "fake/speech")
    assert audio["head"] == "RIFF"
    assert audio["size"] > 44
    assert server.balance(account) == 1_000_000 - 10 * len("The quick brown fox.")


def test_transcriptions_create_and_poll(server: Server, tmp_path: Path) -> None:
    key, account = server.new_key(1_000_000)
    path = tmp_path / "a.wav"
    path.write_bytes(wav_header(16_000) + b"\x00\x00" * 16_000)
    result = sdk(server, key, "transcription", "fake/transcribe", str(path))["result"]
    assert result["status"] == "completed"
    assert result["result"]["text"].endswith("bytes of audio")
    assert server.balance(account) == 1_000_000 - 100


def test_videos_generate_with_polling(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    done = sdk(server, key, "video", "fake/video")
    assert done["result"]["status"] == "completed"
    assert done["seen"][0] == "queued"
    assert httpx2.get(done["result"]["video"]["url"]).content[4:8] == b"ftyp"
    assert done["result"]["meta"]["usage"]["credits_used"] == 4_000
    data = sdk(server, key, "video_bytes", "fake/video")
    assert data["head"] == "ftyp"
    assert server.balance(account) == 1_000_000 - 4_000 - 5_000


def test_a_failed_video_ends_the_sdk_poll_with_its_error(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    done = sdk(server, key, "video", "fake/video", "FAIL")
    assert done["result"]["status"] == "error"
    assert done["result"]["error"]["message"] == "The fake model could not make this."
    assert server.balance(account) == 1_000_000


def test_the_embedded_speech_models_round_trip(server: Server, tmp_path: Path) -> None:
    key, _ = server.new_key(10_000_000)
    spoken = sdk(server, key, "speech_to_file", "piper", str(tmp_path / "fox.mp3"))
    assert spoken["size"] > 1_000
    result = sdk(server, key, "transcription", "whisper-tiny.en", str(tmp_path / "fox.mp3"))["result"]
    assert result["status"] == "completed"
    heard = result["result"]["text"].lower()
    assert sum(word in heard for word in ("quick", "brown", "fox")) >= 2, heard


def test_images_and_speech_on_an_emulated_upstream(emulated: tuple[Server, Emulator]) -> None:
    server, emulator = emulated
    key, account = server.new_key(10_000_000)
    urls = sdk(server, key, "images", "openai/gpt-image-1", "1024x1024")["urls"]
    assert httpx2.get(urls[0]).content.startswith(b"\x89PNG")
    audio = sdk(server, key, "speech", "openai/tts-1")
    assert audio["head"] == "RIFF"
    assert [name for name, _ in emulator.seen] == ["generations", "speech"]
    assert emulator.seen[1][1]["input"] == "The quick brown fox."
    assert [(r[0], r[4]) for r in server.usage_rows(account)] == [("openai/gpt-image-1", "ok"), ("openai/tts-1", "ok")]
