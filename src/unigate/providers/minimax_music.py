"""``MiniMaxMusic``: MiniMax's music models (https://platform.minimax.io/docs/api-reference/
music-generation) behind the ``JobRunner`` protocol, on the ``minimax`` provider's key.

``POST /music_generation`` runs the whole generation within the call (a minute or more) and
answers ``{data: {audio, status}, extra_info: {music_duration (ms), music_sample_rate, bitrate,
music_size...}, trace_id, base_resp}``; asked with ``output_format: "url"``, ``audio`` is a link
(valid 24 hours) the gateway downloads and re-hosts, else the audio in hex, kept as bytes. So the
runner is ``inline``: ``submit`` is the job, made by a poller, and answers its outcome.

The service's fields: ``prompt``, ``lyrics``, ``is_instrumental``, ``lyrics_optimizer``,
``refer_voice`` and ``refer_instrumental`` (music-01) keep their names; ``audio_setting`` too,
its ``audio_sample_rate`` (the schemas of music-1.5 to 2.6) being MiniMax's ``sample_rate``.
``music-cover`` takes the song to cover as ``audio_url`` (or bare base64 as ``audio_base64``)
from the service's ``reference_audio_url``.
"""

from __future__ import annotations

import binascii
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, failure_error
from unigate.providers.minimax_speech import base_failure, parse_error
from unigate.providers.multipart import encode_multipart
from unigate.providers.task_jobs import answer_object, data_base64, is_data_uri, lost, text_option
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["AUDIO_TYPES", "TIMING", "MiniMaxMusic", "music_body"]

TIMING = JobTiming(first_s=10.0, factor=1.5, max_interval_s=30.0, deadline_s=1800.0)
"""Nothing is polled (the call is the job); the deadline bounds a call that never answered."""

PASSED = ("lyrics", "is_instrumental", "lyrics_optimizer", "refer_voice", "refer_instrumental")
AUDIO_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/L16", "flac": "audio/flac"}


def music_body(request: GenerationRequest, upstream: str) -> dict[str, Any]:
    """The JSON body of ``POST /music_generation``."""
    options = request.options
    body: dict[str, Any] = {"model": upstream, "output_format": "url"}
    if request.prompt:
        body["prompt"] = request.prompt
    body.update({k: options[k] for k in PASSED if options.get(k) is not None})
    setting = options.get("audio_setting")
    if isinstance(setting, dict) and setting:
        audio = dict(setting)
        if "audio_sample_rate" in audio:
            audio["sample_rate"] = audio.pop("audio_sample_rate")
        body["audio_setting"] = audio
    reference = text_option(options, "reference_audio_url")
    if reference:
        key = "audio_base64" if is_data_uri(reference) else "audio_url"
        body[key] = data_base64(reference, "reference_audio_url")
    if not any(body.get(k) for k in ("prompt", "lyrics", "audio_url", "audio_base64")):
        raise InvalidRequest("MiniMax makes music from a prompt or lyrics: give one.", param="prompt")
    return body


class MiniMaxMusic(UpstreamAdapter):
    """MiniMax music generation as an inline ``JobRunner`` (see the module)."""

    timing = TIMING
    inline = True

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        music_body(request, model.upstream_model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        body = music_body(request, model.upstream_model)
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        answer = answer_object(
            await self.upstream.post_json(self.url("music_generation"), headers=headers, body=body), self.name, "music"
        )
        failure = base_failure(answer.get("base_resp"))
        if failure is not None:
            raise failure_error(self.config, 502, failure)
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        info = answer.get("extra_info") if isinstance(answer.get("extra_info"), dict) else {}
        audio = (data or {}).get("audio")
        if not isinstance(audio, str) or not audio:
            raise UpstreamError(f"The {self.name} provider answered a music request without audio.")
        audio_format = str((info or {}).get("audio_format") or (body.get("audio_setting") or {}).get("format") or "mp3")
        content_type = AUDIO_TYPES.get(audio_format, "audio/mpeg")
        name = f"music.{audio_format}"
        if audio.startswith(("https://", "http://")):
            file = GeneratedFile(field="audio_file", url=audio, content_type=content_type, filename=name)
        else:
            try:
                raw = bytes.fromhex(audio)
            except (ValueError, binascii.Error) as exc:
                raise UpstreamError(
                    f"The {self.name} provider answered with audio that is neither a URL nor hex."
                ) from exc
            file = GeneratedFile(field="audio_file", blob=Blob(raw, content_type, name), content_type=content_type)
        millis = (info or {}).get("music_duration")
        seconds = millis / 1000 if isinstance(millis, (int, float)) and not isinstance(millis, bool) else None
        outcome = Progress(JobStatus.COMPLETED, files=(file,), duration_s=seconds)
        return Submitted(upstream_id=str(answer.get("trace_id") or reference), outcome=outcome)

    async def upload_reference(self, audio: Blob, purpose: str) -> dict[str, Any]:
        """``POST /music_upload`` (music-01's first step): the ``voice_id`` and/or
        ``instrumental_id`` MiniMax gives the recording, with its ``trace_id``."""
        body, content_type = encode_multipart({"purpose": purpose}, [("file", audio)])
        headers = {"Authorization": f"Bearer {self.config.api_key}", "Content-Type": content_type}
        raw = await self.upstream.request_json("POST", self.url("music_upload"), headers=headers, body=body)
        answer = answer_object(raw, self.name, "music upload")
        failure = base_failure(answer.get("base_resp"))
        if failure is not None:
            raise failure_error(self.config, 502, failure)
        ids = {k: answer[k] for k in ("voice_id", "instrumental_id", "trace_id") if isinstance(answer.get(k), str)}
        if "voice_id" not in ids and "instrumental_id" not in ids:
            raise UpstreamError(f"The {self.name} provider took the recording but answered no id for it.")
        return ids

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        # The generation ended within submit; MiniMax keeps no task to ask about afterwards.
        return lost(self.name, job.upstream_id)
