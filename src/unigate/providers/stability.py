"""``StabilityAudio``: Stability AI's Stable Audio 2 behind the ``JobRunner`` protocol, for the
service's ``stable-audio``: ``POST /v2beta/audio/stable-audio-2/text-to-audio``
(platform.stability.ai/docs/api-reference), a ``multipart/form-data`` body of ``prompt``,
``duration``, ``seed``, ``steps``, ``model`` and ``output_format``, ``Authorization: Bearer`` and
``Accept: audio/*``, answered with the audio's bytes once made.

The service documents the model with Stable Audio Open's fields: ``seconds_total`` is Stability's
``duration`` (the service's default, 30 s, is sent when none is given, as Stability's own is
190 s); ``steps`` goes as it is within the range Stability allows for the model (``STEPS``); a
``seconds_start`` (the start of a window cut from a longer clip) has no counterpart and is
refused before any credit is reserved.

Synchronous, so the runner is ``inline``: a poller makes the one call and the job ends with it.
A ``finish-reason`` of ``CONTENT_FILTERED`` ends it in error; Stability's ``seed`` header is
passed on. Errors come as ``{"id", "name", "errors": [...]}``; a prompt the moderation refused
is a 403 named ``content_moderation``, answered as the 400 it is rather than as a wrong key.
"""

from __future__ import annotations

from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.multipart import encode_multipart
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter
from unigate.providers.wire import error_object

__all__ = ["DEFAULT_SECONDS", "STEPS", "StabilityAudio", "audio_fields", "parse_error"]

PATH = "v2beta/audio/stable-audio-2/text-to-audio"
DEFAULT_SECONDS = 30
"""The service's documented default ``seconds_total``."""

STEPS = {"stable-audio-2.5": (4, 8), "stable-audio-2": (30, 100)}
"""The ``steps`` Stability takes for each model, inclusive."""

_FIELDS = frozenset({"seconds_total", "steps", "seed"})


def parse_error(body: bytes) -> UpstreamFailure:
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    errors = data.get("errors")
    # A prompt the moderation refused comes as a 403, which would otherwise read as a wrong key.
    status = 400 if data.get("name") == "content_moderation" else None
    if isinstance(errors, list) and errors:
        return UpstreamFailure("; ".join(str(e) for e in errors), status=status)
    name = data.get("name") or data.get("message")
    return UpstreamFailure(str(name) if name else None)


def audio_fields(request: GenerationRequest, model: ModelSpec) -> dict[str, str]:
    """The form fields of one generation."""
    options = request.options
    if options.get("seconds_start"):
        raise UnsupportedParameter(
            "Stable Audio 2 makes a clip from its start; seconds_start has no counterpart.", param="seconds_start"
        )
    unknown = sorted(set(options) - _FIELDS - {"seconds_start", "model"})
    if unknown:
        raise UnsupportedParameter(f"{request.model} takes no {unknown[0]}.", param=unknown[0])
    seconds = options.get("seconds_total") or request.duration_s or DEFAULT_SECONDS
    fields = {
        "prompt": request.prompt or "",
        "duration": str(int(seconds)),
        "model": model.upstream_model,
        "output_format": "mp3",
    }
    steps = options.get("steps")
    if steps is not None:
        low, high = STEPS.get(model.upstream_model, (1, 1000))
        if not low <= int(steps) <= high:
            raise InvalidRequest(f"{model.upstream_model} takes from {low} to {high} steps.", param="steps")
        fields["steps"] = str(int(steps))
    if options.get("seed") is not None:
        fields["seed"] = str(int(options["seed"]))
    return fields


class StabilityAudio(UpstreamAdapter):
    """Stable Audio 2 (see the module)."""

    timing = JobTiming(first_s=5.0, factor=1.5, max_interval_s=30.0, deadline_s=900.0)
    inline = True

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        audio_fields(request, model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        fields = audio_fields(request, model)
        body, content_type = encode_multipart(fields)
        key = self.config.api_key or ""
        headers = {"Authorization": f"Bearer {key}", "Accept": "audio/*", "Content-Type": content_type}
        resp = await self.upstream.open("POST", self.url(PATH), headers=headers, body=body)
        finish = resp.headers.get("finish-reason", "SUCCESS")
        seed = resp.headers.get("seed")
        served = resp.headers.get("content-type", "").split(";")[0].strip()
        audio = await self.upstream.read_body(resp)
        details: dict[str, Any] = {"seed": int(seed)} if seed and seed.isascii() and seed.isdigit() else {}
        if finish == "CONTENT_FILTERED":
            message = f"The {self.name} provider's content filter withheld the audio."
            return Submitted(reference, outcome=Progress(JobStatus.ERROR, message=message, details=details))
        if not audio or served == "application/json":
            raise UpstreamError(f"The {self.name} provider answered with no audio.")
        blob = Blob(audio, served if served.startswith("audio/") else "audio/mpeg", "audio.mp3")
        file = GeneratedFile("audio_file", blob=blob, content_type=blob.content_type, filename=blob.filename)
        progress = Progress(JobStatus.COMPLETED, files=(file,), duration_s=float(fields["duration"]), details=details)
        return Submitted(reference, outcome=progress)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        return Progress(JobStatus.ERROR, message=f"The {self.name} generation {job.upstream_id} was lost.")
