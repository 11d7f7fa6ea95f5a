"""The media endpoints' routes, each also without the ``/v1`` prefix (as the chat ones)."""

from __future__ import annotations

from aiohttp import web

from unigate.api.media.images import image_edits
from unigate.api.media.ocr import ocr
from unigate.api.media.speech import audio_speech, tts
from unigate.api.media.transcription import (
    audio_transcriptions,
    audio_translations,
    stt_create,
    stt_legacy,
    stt_result,
)

__all__ = ["add_media_routes"]


def add_media_routes(router: web.UrlDispatcher) -> None:
    for prefix in ("/v1", ""):
        router.add_post(f"{prefix}/images/edits", image_edits)
        router.add_post(f"{prefix}/tts", tts)
        router.add_post(f"{prefix}/audio/speech", audio_speech)
        router.add_post(f"{prefix}/audio/transcriptions", audio_transcriptions)
        router.add_post(f"{prefix}/audio/translations", audio_translations)
        router.add_post(f"{prefix}/stt/create", stt_create)
        router.add_get(f"{prefix}/stt/{{generation_id}}", stt_result)
        router.add_post(f"{prefix}/stt", stt_legacy)
        router.add_post(f"{prefix}/ocr", ocr)
