"""PixVerse's platform API envelope and the bodies of its generation endpoints
(docs.platform.pixverse.ai).

Every answer, success or refusal, is ``{"ErrCode", "ErrMsg", "Resp"}`` with ``ErrCode`` 0 on
success, mostly under HTTP 200: ``envelope`` raises for a non-zero code, a 4000xx code (a
parameter PixVerse refused: ``400017 invalid param``) as ``InvalidRequest``, ``500044`` (the
account's concurrent generations are all busy) as ``RateLimited``, any other as
``UpstreamError``.

The service documents PixVerse's models under the platform's own field names, but for
``resolution`` (PixVerse's ``quality``), the input files (an ``img_id``, ``first_frame_img`` /
``last_frame_img``, ``video_media_id`` / ``audio_media_id`` once uploaded: ``jobs.py``) and the
lip-sync voice, which the service names (``Harper``...) and PixVerse numbers
(``lip_sync_tts_speaker_id``, from its TTS list; ``Auto`` is ``auto``). PixVerse requires
``duration``, ``quality`` and, for text to video, ``aspect_ratio``: the service's defaults (5 s,
720p, 16:9) are sent when a request has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.core.jobs import GenerationRequest
from unigate.errors import GatewayError, InvalidRequest, RateLimited, UpstreamError
from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import error_object

__all__ = ["MODES", "Mode", "envelope", "generation_body", "lip_sync_source", "mode_of", "parse_error"]

MODES = {"text": "text", "img": "img", "transition": "transition", "lip_sync": "lip_sync"}
"""The routes' modes, each PixVerse's endpoint ``/openapi/v2/video/{mode}/generate``."""

Mode = tuple[str, str]
"""(mode, model version): ``("img", "v5.5")``; lip sync has no version."""

DEFAULTS: dict[str, Any] = {"duration": 5, "quality": "720p"}
_PASSED = ("duration", "negative_prompt", "style", "seed", "aspect_ratio")
_SWITCHES = ("generate_audio_switch", "generate_multi_clip_switch", "thinking_type")
"""PixVerse v5.5's fields, under the same names in the service's schema."""

BUSY = 500044


def mode_of(upstream: str) -> Mode:
    """A route's upstream id (``v5.5/img``, ``lip_sync``) as its mode and model version."""
    version, _, mode = upstream.rpartition("/")
    if mode not in MODES or (mode != "lip_sync") == (not version):
        raise InvalidRequest(f"The pixverse provider has no endpoint for {upstream!r}.", param="model")
    return mode, version


def parse_error(body: bytes) -> UpstreamFailure:
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    message = data.get("ErrMsg") or data.get("message")
    return UpstreamFailure(str(message) if message else None)


def envelope(data: Any, what: str) -> Mapping[str, Any]:
    """``Resp`` of a successful answer; the failure an ``ErrCode`` stands for otherwise."""
    if not isinstance(data, Mapping) or not isinstance(data.get("ErrCode"), int):
        raise UpstreamError(f"The pixverse provider answered {what} without its ErrCode.")
    code, message = data["ErrCode"], str(data.get("ErrMsg") or "no details given")
    if code == 0:
        resp = data.get("Resp")
        if not isinstance(resp, Mapping):
            raise UpstreamError(f"The pixverse provider answered {what} without its Resp.")
        return resp
    raise refusal(code, f"The pixverse provider refused {what} ({code}): {message}")


def refusal(code: int, message: str) -> GatewayError:
    if 400000 <= code < 500000:
        return InvalidRequest(message, code="upstream_invalid_request")
    if code == BUSY:
        return RateLimited(message, code="upstream_rate_limited")
    return UpstreamError(message)


def generation_body(request: GenerationRequest, mode: Mode) -> dict[str, Any]:
    """The JSON body of a text, image or transition generation, its input files left out."""
    name, version = mode
    options = request.options
    body: dict[str, Any] = {"model": version, "prompt": request.prompt or ""}
    body.update({k: options[k] for k in (*_PASSED, *_SWITCHES) if options.get(k) is not None})
    body["quality"] = options.get("resolution") or DEFAULTS["quality"]
    body.setdefault("duration", DEFAULTS["duration"])
    if name == "text":
        body.setdefault("aspect_ratio", "16:9")
    else:
        body.pop("aspect_ratio", None)  # an image's frame decides it
    if options.get("lip_sync_tts_content"):
        body["lip_sync_switch"] = True
        body["lip_sync_tts_content"] = options["lip_sync_tts_content"]
    return body


def lip_sync_source(request: GenerationRequest) -> str:
    """Where a lip sync's speech comes from: ``audio`` (a file) or ``tts`` (a script); refused
    when a request gives neither or both."""
    options = request.options
    audio, script = options.get("audio_url"), options.get("lip_sync_tts_content")
    if bool(audio) == bool(script):
        raise InvalidRequest("Give either audio_url or lip_sync_tts_content, one of the two.", param="audio_url")
    return "audio" if audio else "tts"
