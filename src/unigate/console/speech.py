"""The Playground's Speech tab: speak a text with any available speech model and hear it, or
transcribe an uploaded recording, each with the credits it cost.

As for chat (``playground.py``), the browser never holds a key: ``speech.js`` posts to
``POST /console/api/speech`` and ``POST /console/api/transcribe`` with the session cookie and
the CSRF header, and the console runs the call through the media flow with the key the session
spends from (``spending.py``), as ``/v1/audio/speech`` and ``/v1/audio/transcriptions`` do:
the same checks, reservation, settlement and ledger row.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from unigate.api.context import MEDIA, SETTINGS
from unigate.api.media.speech import stream_speech, text_to_speak
from unigate.api.media.uploads import read_form
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json
from unigate.console.models import catalog_rows
from unigate.console.render import page, signed_in
from unigate.console.spending import api_session, spendable_keys, spending_key
from unigate.core.media import SpeechRequest, TranscriptionRequest
from unigate.core.media_flow import TYPES
from unigate.core.services import Modality
from unigate.errors import InvalidRequest
from unigate.providers.audio.probe import audio_duration

__all__ = ["speech", "speech_page", "transcribe"]

SPEECH_TYPES = TYPES[Modality.SPEECH][0]
TRANSCRIPTION_TYPES = TYPES[Modality.TRANSCRIPTION][0]


async def speech_page(request: web.Request) -> web.StreamResponse:
    """``GET /console/playground?tab=speech``."""
    session = await signed_in(request)
    available = [r.spec for r in catalog_rows(request) if r.available]
    return page(
        request,
        "speech.html",
        session=session,
        tab="speech",
        speakers=[s for s in available if s.type in SPEECH_TYPES],
        transcribers=[s for s in available if s.type in TRANSCRIPTION_TYPES],
        keys=await spendable_keys(request, session),
        max_upload_mb=request.config_dict[SETTINGS].media.max_upload_bytes // (1024 * 1024),
    )


def _model(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest("Choose a model.", param="model")
    return value


async def speech(request: web.Request) -> web.StreamResponse:
    """``POST /console/api/speech``: ``{model, text, voice?, key?}``, answered with the audio as
    it is generated, its cost in ``X-Credits-Used`` and ``X-USD-Spent``."""
    session = await api_session(request)
    body = await read_json(request)
    key = await spending_key(request, session, body.get("key"))
    media = request.config_dict[MEDIA]
    spec = media.model(_model(body.get("model")), Modality.SPEECH)
    voice = body.get("voice")
    spoken = SpeechRequest(
        model=spec.id,
        text=text_to_speak(body.get("text"), "text"),
        voice=voice.strip() if isinstance(voice, str) and voice.strip() else None,
    )
    return await stream_speech(request, await media.speak(spoken, key, admission=admission_for(request)))


async def transcribe(request: web.Request) -> web.Response:
    """``POST /console/api/transcribe``: multipart ``model``, ``file``, ``key?``, answered with
    ``{text, credits_used, duration_s}``; charged by the duration read from the file."""
    session = await api_session(request)  # before the upload is read
    form = await read_form(request, max_bytes=request.config_dict[SETTINGS].media.max_upload_bytes)
    key = await spending_key(request, session, form.fields.get("key"))
    media = request.config_dict[MEDIA]
    spec = media.model(_model(form.fields.get("model")), Modality.TRANSCRIPTION)
    audio = form.file("file")
    if audio is None:
        raise InvalidRequest("Choose an audio file to transcribe.", param="file")
    heard = TranscriptionRequest(model=spec.id, audio=audio, duration_s=await asyncio.to_thread(audio_duration, audio))
    transcript, charge = await media.transcribe(heard, key, admission=admission_for(request))
    body = {"text": transcript.text, "credits_used": charge.credits, "duration_s": heard.duration_s}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
