"""Text to speech: the service's ``POST /v1/tts`` and OpenAI's ``POST /v1/audio/speech`` (each
also without ``/v1``).

``/v1/audio/speech`` answers with the audio bytes, streamed as they are generated. ``/v1/tts``
answers ``{audio: {url, content_type}, meta}`` (the audio stored, a signed link), or the bytes
streamed when ``stream`` is true (Deepgram's and ElevenLabs' models default to it, as the
service documents). A binary answer carries its cost in headers, since it has no body to put
``meta.usage`` in: ``X-Credits-Used`` and ``X-USD-Spent`` (the price of the whole text, sent
before the audio; the ledger charges nothing if the upstream then fails mid-way).
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import orjson
from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import MEDIA, STORE
from unigate.api.media.links import file_url
from unigate.api.meta import meta
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json
from unigate.catalog.fields import request_schema
from unigate.catalog.spec import ModelSpec
from unigate.core.gateway import Charge
from unigate.core.media import SPEECH_FORMATS, SpeechRequest
from unigate.core.media_flow import SpeechSession
from unigate.core.services import Modality
from unigate.errors import InvalidRequest

__all__ = ["audio_speech", "stream_speech", "text_to_speak", "tts"]

MAX_CHARACTERS = 100_000
"""A text longer than this is refused for any model (OpenAI's own limit is 4,096; the models'
schemas give theirs)."""


_OPENAI_FIELDS = frozenset({"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"})


def text_to_speak(value: Any, param: str) -> str:
    """``value`` checked to be a text a speech model may be asked to speak."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"'{param}' must be a non-empty string: the text to speak.", param=param)
    if len(value) > MAX_CHARACTERS:
        raise InvalidRequest(f"'{param}' is longer than {MAX_CHARACTERS} characters.", param=param)
    return value


def _format(value: Any) -> str:
    if value is None:
        return "mp3"
    if not isinstance(value, str) or value not in SPEECH_FORMATS:  # a list is unhashable
        raise InvalidRequest(f"'response_format' must be one of {', '.join(SPEECH_FORMATS)}.", param="response_format")
    return str(value)


def _speed(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.25 <= value <= 4.0:
        raise InvalidRequest("'speed' must be a number from 0.25 to 4.0.", param="speed")
    return float(value)


async def audio_speech(request: web.Request) -> web.StreamResponse:
    """OpenAI's shape: ``input``, ``voice``, ``response_format``, ``speed``, ``instructions``."""
    key = await require_key(request, request.app[STORE])
    body = await read_json(request)
    unknown = sorted(set(body) - _OPENAI_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    if body.get("stream_format") not in (None, "audio"):
        raise InvalidRequest("'stream_format' 'sse' is not served; the audio streams as bytes.", param="stream_format")
    spec = _model(request, body)
    voice = body.get("voice")
    speech = SpeechRequest(
        model=spec.id,
        text=text_to_speak(body.get("input"), "input"),
        voice=voice if isinstance(voice, str) else None,
        format=_format(body.get("response_format")),
        speed=_speed(body.get("speed")),
        instructions=body.get("instructions") if isinstance(body.get("instructions"), str) else None,
    )
    session = await request.app[MEDIA].speak(speech, key, admission=admission_for(request))
    return await stream_speech(request, session)


async def tts(request: web.Request) -> web.StreamResponse:
    """The service's shape: ``text`` (or ``script``), ``voice`` and the model's own fields (its
    reference schema)."""
    key = await require_key(request, request.app[STORE])
    body = await read_json(request)
    spec = _model(request, body)
    fields = dict(body)
    # The service's SDK sends OpenAI's names (``style`` for instructions, ``response_format``).
    instructions = fields.pop("style", None)
    response_format = fields.pop("response_format", None)
    schema = request_schema(spec)
    if schema is not None:
        fields = schema.validate(fields, ignore=("stream",))
    stream = fields.pop("stream", None)
    if stream is None and schema is not None:
        stream = schema.default("stream")
    # VibeVoice's schema names its text ``script`` (a dialogue's "Speaker 0:" lines).
    text_field = (
        "script" if schema is not None and "script" in schema.fields and "text" not in schema.fields else "text"
    )
    text = text_to_speak(fields.pop(text_field, None), text_field)
    voice = fields.pop("voice", None)
    fields.pop("model", None)
    speech = SpeechRequest(
        model=spec.id,
        text=text,
        voice=voice if isinstance(voice, str) else None,
        format=_format(response_format) if response_format is not None else "mp3",
        speed=_speed(fields.pop("speed", None)),
        instructions=instructions if isinstance(instructions, str) else None,
        options=fields,
    )
    session = await request.app[MEDIA].speak(speech, key, admission=admission_for(request))
    if stream:
        return await stream_speech(request, session)
    return await _stored(request, session)


def _model(request: web.Request, body: dict[str, Any]) -> ModelSpec:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    return request.app[MEDIA].model(model, Modality.SPEECH)


def _cost_headers(charge: Charge) -> dict[str, str]:
    return {"X-Credits-Used": str(charge.credits), "X-USD-Spent": f"{charge.usd:.6f}"}


async def stream_speech(request: web.Request, session: SpeechSession) -> web.StreamResponse:
    """``session``'s audio streamed as the answer to ``request``, its cost in the headers; the
    session settles when the stream ends, or at nothing if it never started."""
    audio = session.audio
    response = web.StreamResponse(
        headers={"Content-Type": SPEECH_FORMATS.get(audio.format, audio.content_type), **_cost_headers(session.charge)}
    )
    try:
        async with aclosing(session.chunks()) as chunks:
            await response.prepare(request)
            async for chunk in chunks:
                await response.write(chunk)
    finally:
        await session.close()  # a no-op once the stream settled
    await response.write_eof()
    return response


async def _stored(request: web.Request, session: SpeechSession) -> web.Response:
    media = request.app[MEDIA]
    audio = session.audio
    content_type = SPEECH_FORMATS.get(audio.format, audio.content_type)
    chunks = session.chunks()
    try:
        file = await media.files.put_stream(session.owner, content_type, chunks, filename=f"speech.{audio.format}")
    except BaseException:
        await session.fail()  # not stored, not delivered: not charged
        raise
    finally:
        await chunks.aclose()
        await session.close()
    body = {"audio": {"url": file_url(request, file), "content_type": content_type}, "meta": meta(session.charge)}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
