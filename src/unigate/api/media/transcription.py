"""Speech to text, each also without ``/v1``:

- OpenAI's ``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart ``file``,
  ``model``, ``language``, ``prompt``, ``response_format``, ``temperature``,
  ``timestamp_granularities[]``);
- the service's ``POST /v1/stt/create`` (JSON ``{model, url}`` or multipart ``audio``, plus the
  model's own fields) answering ``{generation_id}``, and ``GET /v1/stt/{generation_id}``
  answering ``{id, status, output, result}``;
- the legacy synchronous ``POST /v1/stt``, answering 201 with the result inline.

``/v1/stt/create`` transcribes before it answers and keeps the result in the media store under
the generation id, owned by the caller's account: a poll (on any replica) finds it ``completed``
at once, and no job can be lost by a restart between create and poll. Another account's id
answers 404, as if it did not exist. The poll answer carries the transcript under both ``output``
(the service's reference schema) and ``result`` (the name the issue gave), the same object.

Every request is charged by the audio's duration, read from the file before the call.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import orjson
from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import MEDIA, SETTINGS, STORE
from unigate.api.media.transcript_formats import FORMATS, output_of, srt, verbose_json, vtt
from unigate.api.media.uploads import Form, read_form, source_of
from unigate.api.meta import meta
from unigate.api.ratelimit_headers import admission_for
from unigate.catalog.fields import request_schema
from unigate.core.gateway import Charge
from unigate.core.media import Blob, Transcript, TranscriptionRequest
from unigate.core.services import Modality
from unigate.errors import InvalidRequest, NotFound
from unigate.providers.audio.probe import audio_duration

__all__ = ["audio_transcriptions", "audio_translations", "stt_create", "stt_legacy", "stt_result"]

_OPENAI_FIELDS = frozenset(
    {"model", "language", "prompt", "response_format", "temperature", "timestamp_granularities", "stream"}
    | {"chunking_strategy", "include"}
)


async def audio_transcriptions(request: web.Request) -> web.Response:
    return await _openai(request, task="transcribe")


async def audio_translations(request: web.Request) -> web.Response:
    return await _openai(request, task="translate")


async def _read(request: web.Request) -> Form:
    return await read_form(request, max_bytes=request.app[SETTINGS].media.max_upload_bytes)


def _model(form: Form) -> str:
    model = form.fields.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    return model


def _float(value: Any, param: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"'{param}' must be a number.", param=param) from None


async def _openai(request: web.Request, *, task: str) -> web.Response:
    key = await require_key(request, request.app[STORE])
    form = await _read(request)
    media = request.app[MEDIA]
    spec = media.model(_model(form), Modality.TRANSCRIPTION)
    fields = form.fields
    unknown = sorted(set(fields) - _OPENAI_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    if fields.get("stream") in ("true", True):
        raise InvalidRequest("Streamed transcriptions are not served; leave 'stream' unset.", param="stream")
    response_format = fields.get("response_format") or "json"
    if response_format not in FORMATS:
        raise InvalidRequest(f"'response_format' must be one of {', '.join(FORMATS)}.", param="response_format")
    granularities = fields.get("timestamp_granularities") or []
    granularities = [granularities] if isinstance(granularities, str) else list(granularities)
    if any(g not in ("word", "segment") for g in granularities):
        raise InvalidRequest(
            "'timestamp_granularities' items must be 'word' or 'segment'.", param="timestamp_granularities"
        )
    if granularities and response_format != "verbose_json":
        raise InvalidRequest(
            "'timestamp_granularities' needs response_format 'verbose_json'.", param="timestamp_granularities"
        )
    audio = form.file("file")
    if audio is None:
        raise InvalidRequest("Missing required parameter: 'file' (the audio, as a multipart file).", param="file")
    language, prompt = fields.get("language"), fields.get("prompt")
    canonical = TranscriptionRequest(
        model=spec.id,
        audio=audio,
        duration_s=await asyncio.to_thread(audio_duration, audio),
        task="translate" if task == "translate" else "transcribe",
        language=language if isinstance(language, str) and language else None,
        prompt=prompt if isinstance(prompt, str) and prompt else None,
        temperature=_float(fields.get("temperature"), "temperature"),
        timestamps=_granularities(granularities, response_format),
    )
    transcript, charge = await media.transcribe(canonical, key, admission=admission_for(request))
    return _render(transcript, charge, response_format, task=task, words="word" in granularities)


def _granularities(asked: list[str], response_format: str) -> frozenset[Literal["segment", "word"]]:
    """What the provider is asked for: segments for ``verbose_json`` unless only words are."""
    out: set[Literal["segment", "word"]] = {"word"} if "word" in asked else set()
    if "segment" in asked or (response_format == "verbose_json" and not asked):
        out.add("segment")
    return frozenset(out)


def _render(transcript: Transcript, charge: Charge, response_format: str, *, task: str, words: bool) -> web.Response:
    headers = {"X-Credits-Used": str(charge.credits), "X-USD-Spent": f"{charge.usd:.6f}"}
    if response_format in ("text", "srt", "vtt"):
        body = transcript.text if response_format == "text" else (srt if response_format == "srt" else vtt)(transcript)
        content_type = "text/vtt" if response_format == "vtt" else "text/plain"
        return web.Response(
            text=body + ("" if body.endswith("\n") else "\n"), content_type=content_type, headers=headers
        )
    payload: dict[str, Any] = (
        verbose_json(transcript, task="translate" if task == "translate" else "transcribe", words=words)
        if response_format == "verbose_json"
        else {"text": transcript.text}
    )
    payload["meta"] = meta(charge)
    return web.Response(body=orjson.dumps(payload), content_type="application/json", headers=headers)


# -- the service's STT ----------------------------------------------------------------------------


async def _service_request(request: web.Request) -> tuple[Any, TranscriptionRequest]:
    key = await require_key(request, request.app[STORE])
    form = await _read(request)
    media = request.app[MEDIA]
    spec = media.model(_model(form), Modality.TRANSCRIPTION)
    fields = dict(form.fields)
    url = fields.pop("url", None)
    upload = form.file("audio", "file")
    if (url is None) == (upload is None):
        raise InvalidRequest("Send exactly one of 'url' (JSON) or 'audio' (a multipart file).", param="url")
    schema = request_schema(spec)
    if schema is not None:
        fields = schema.validate(fields, ignore=("audio", "url"), form=form.multipart)
    fields.pop("model", None)
    if upload is None:
        source = source_of(url, "url", kinds=("audio/", "video/"))
        audio = source.blob if source.blob is not None else await media.download(str(source.url))
    else:
        audio = upload
    language = fields.pop("language", None)
    canonical = TranscriptionRequest(
        model=spec.id,
        audio=Blob(audio.data, audio.content_type, audio.filename),
        duration_s=await asyncio.to_thread(audio_duration, audio),
        language=language if isinstance(language, str) else None,
        prompt=fields.pop("prompt", None),
        options=fields,
    )
    return key, canonical


async def stt_create(request: web.Request) -> web.Response:
    key, canonical = await _service_request(request)
    media = request.app[MEDIA]
    transcript, charge = await media.transcribe(canonical, key, admission=admission_for(request))
    result = {"output": output_of(transcript), "meta": meta(charge)}
    job = Blob(orjson.dumps(result), "application/json", "transcript.json")
    stored = await media.files.put(str(key.account_id), job)
    return web.Response(body=orjson.dumps({"generation_id": stored.id}), content_type="application/json")


async def stt_result(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    files = request.app[MEDIA].files
    generation_id = request.match_info["generation_id"]
    found = await files.stat(generation_id)
    if found is None or found.owner != str(key.account_id) or found.content_type != "application/json":
        raise NotFound(f"No transcription {generation_id!r} exists for this account.", code="generation_not_found")
    saved = orjson.loads(b"".join([chunk async for chunk in files.open(found)]))
    output = saved["output"]
    body = {"id": generation_id, "status": "completed", "output": output, "result": output, "meta": saved["meta"]}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def stt_legacy(request: web.Request) -> web.Response:
    key, canonical = await _service_request(request)
    transcript, charge = await request.app[MEDIA].transcribe(canonical, key, admission=admission_for(request))
    body = {"result": output_of(transcript), "meta": meta(charge)}
    return web.Response(body=orjson.dumps(body), status=201, content_type="application/json")
