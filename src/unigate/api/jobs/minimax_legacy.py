"""The service's legacy two-step flow for MiniMax's ``music-01``, in MiniMax's own shapes:

- ``POST /v2/generate/audio/minimax/upload``: a multipart ``file`` (WAV or MP3, 10 s to 10 min)
  and its ``purpose`` (``song``, ``voice`` or ``instrumental``), passed to MiniMax, answering
  ``{voice_id?, instrumental_id?, trace_id, base_resp}``. Nothing is generated or charged.
- ``POST /v2/generate/audio/minimax/generate``: ``{model: "music-01", lyrics, refer_voice?,
  refer_instrumental?, audio_setting?}`` (JSON or multipart, as the service's samples send it),
  run as a music job like any other (recorded, settled once) and waited for, answering MiniMax's
  ``{data: {status: 2, audio: <url>}, extra_info, trace_id, base_resp}`` with our ``meta``; the
  ``audio`` is the gateway's link to the stored file (MiniMax's ``url`` output format).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from unigate.accounts import scopes
from unigate.api.auth import require_key
from unigate.api.context import JOBS, SETTINGS, STORE
from unigate.api.jobs.render import answer
from unigate.api.jobs.three_d import run_to_end
from unigate.api.media.uploads import read_form
from unigate.core.gateway import authorize
from unigate.core.jobs import JobKind
from unigate.core.media_providers import ReferenceUploader
from unigate.errors import InvalidRequest

__all__ = ["minimax_generate", "minimax_upload"]

MODEL = "music-01"
PURPOSES = ("song", "voice", "instrumental")
_OK = {"status_code": 0, "status_msg": "success"}


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def minimax_upload(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    authorize(key, scopes.AUDIO)
    form = await read_form(request, max_bytes=request.app[SETTINGS].media.max_upload_bytes)
    purpose = form.fields.get("purpose")
    if purpose not in PURPOSES:
        raise InvalidRequest(f"'purpose' must be one of {', '.join(PURPOSES)}.", param="purpose")
    files = form.files.get("file")
    if not files:
        raise InvalidRequest("Missing the recording: a multipart 'file' (WAV or MP3).", param="file")
    audio = files[0]
    if not audio.content_type.startswith("audio/") and not audio.filename.lower().endswith((".mp3", ".wav")):
        raise InvalidRequest("'file' must be a WAV or MP3 recording.", param="file")
    _, runner = request.app[JOBS].runner(MODEL, JobKind.MUSIC)
    if not isinstance(runner, ReferenceUploader):
        raise InvalidRequest(f"The provider of {MODEL!r} on this server takes no reference recording.", param="file")
    ids = await runner.upload_reference(audio, str(purpose))
    return _json({**ids, "base_resp": _OK})


async def minimax_generate(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    form = await read_form(request, max_bytes=request.app[SETTINGS].media.max_upload_bytes)
    body: dict[str, Any] = dict(form.fields)
    if form.multipart and isinstance(body.get("audio_setting"), str):
        try:
            body["audio_setting"] = orjson.loads(body["audio_setting"])
        except orjson.JSONDecodeError:
            raise InvalidRequest("'audio_setting' must be a JSON object.", param="audio_setting") from None
    body.setdefault("model", MODEL)
    if body["model"] != MODEL:
        raise InvalidRequest(f"This endpoint serves {MODEL!r} only; other music models: POST /v2/generate/audio.")
    if not body.get("refer_voice") and not body.get("refer_instrumental"):
        raise InvalidRequest("Give 'refer_voice' or 'refer_instrumental' (ids from the upload).", param="refer_voice")
    job = await run_to_end(request, key, MODEL, body, JobKind.MUSIC)
    polled = answer(request, job)
    info: dict[str, Any] = {"audio_size": polled["audio_file"]["file_size"]}
    made = (job.result or {}).get("duration_s")
    if isinstance(made, (int, float)):
        info["audio_length"] = round(made * 1000)
    out = {
        "data": {"status": 2, "audio": polled["audio_file"]["url"]},
        "extra_info": info,
        "trace_id": job.upstream_id or job.id,
        "base_resp": _OK,
        "meta": polled["meta"],
    }
    return _json(out)
