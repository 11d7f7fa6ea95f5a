"""Run by tests/sdk/runner.py in a subprocess whose path starts with .sdk/aimlapi (the AI/ML API
SDK and its own fork of ``openai``): the call named on the command line, against the gateway at
``AIML_API_BASE`` with ``AIML_API_KEY``, printing one JSON line of what came back. The media calls
are here; the chat, embeddings and models calls in ``aimlapi_chat_calls.py``, the account calls
in ``aimlapi_account_calls.py``."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimlapi import AIMLAPI  # type: ignore[import-not-found]

from tests.sdk.aimlapi_account_calls import ACCOUNT_CALLS
from tests.sdk.aimlapi_chat_calls import CHAT_CALLS


def images(client: Any, model: str, size: str = "16x16") -> dict[str, Any]:
    answer = client.images.generate(model=model, prompt="a red square", n=1, size=size)
    return {"urls": [d.url for d in answer.data]}


def images_b64(client: Any, model: str) -> dict[str, Any]:
    answer = client.images.generate(model=model, prompt="a red square", response_format="b64_json")
    return {"heads": [base64.b64decode(d.b64_json)[:8].hex() for d in answer.data]}


def speech(client: Any, model: str) -> dict[str, Any]:
    audio = client.audio.speech.create(model=model, voice="alloy", input="The quick brown fox.")
    return {"head": audio.content[:4].decode("latin-1"), "size": len(audio.content)}


def speech_to_file(client: Any, model: str, path: str) -> dict[str, Any]:
    audio = client.audio.speech.create(model=model, voice="alloy", input="The quick brown fox.", response_format="mp3")
    Path(path).write_bytes(audio.content)
    return {"size": len(audio.content)}


def transcription(client: Any, model: str, path: str) -> dict[str, Any]:
    with Path(path).open("rb") as file:
        result = client.audio.transcriptions.create(model=model, file=file)
    return {"result": result}


def video(client: Any, model: str, prompt: str = "a wave WAIT:0.2", duration: str = "4") -> dict[str, Any]:
    seen: list[str] = []
    result = client.videos.generate_with_polling(
        model=model,
        prompt=prompt,
        duration=int(duration),
        poll_interval=0.05,
        status_callback=lambda p: seen.append(p["status"]),
    )
    return {"result": result, "seen": seen}


def video_bytes(client: Any, model: str) -> dict[str, Any]:
    data = client.videos.generate_with_polling(model=model, prompt="a wave", poll_interval=0.05, return_bytes=True)
    return {"head": data[4:8].decode("latin-1"), "size": len(data)}


def main() -> None:
    call, *rest = sys.argv[1:]
    client = AIMLAPI(max_retries=0)
    calls: dict[str, Callable[..., dict[str, Any]]] = {
        **CHAT_CALLS,
        **ACCOUNT_CALLS,
        "images": images,
        "images_b64": images_b64,
        "speech": speech,
        "speech_to_file": speech_to_file,
        "transcription": transcription,
        "video": video,
        "video_bytes": video_bytes,
    }
    out = calls[call](client, *rest)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
