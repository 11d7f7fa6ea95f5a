"""``ElevenLabsMusic``: ElevenLabs' Eleven Music behind the ``JobRunner`` protocol, for the service's
``elevenlabs/eleven_music``: ``POST /v1/music?output_format=mp3_44100_128`` with ``{prompt,
music_length_ms, model_id}`` and the ``xi-api-key`` header (elevenlabs.io/docs/api-reference/
music/compose), which answers the song's bytes once composed.

The upstream is synchronous, so the runner is ``inline``: a poller makes the one call and the
job ends with it (``Submitted.outcome``); its length is what was asked (``music_length_ms``, the
service's default 10 s when none is given). The song's id is ElevenLabs' ``song-id`` header when
it sends one, else the gateway's reference. There is nothing to poll: a poll of such a job means
its submission's outcome was not recorded, and it ends in error.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.core.media import Blob
from unigate.errors import UnsupportedParameter, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.elevenlabs.errors import parse_error
from unigate.providers.http import Upstream
from unigate.providers.media_wire import query_string
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["DEFAULT_LENGTH_MS", "ElevenLabsMusic", "music_body"]

DEFAULT_LENGTH_MS = 10_000
"""The service's documented default ``music_length_ms``."""

OUTPUT_FORMAT = "mp3_44100_128"
_FIELDS = frozenset({"music_length_ms"})
"""The service's fields besides the prompt, which ElevenLabs' body takes under the same name."""


def music_body(request: GenerationRequest, model: ModelSpec) -> dict[str, Any]:
    """The JSON body of one composition."""
    unknown = sorted(set(request.options) - _FIELDS - {"model"})
    if unknown:
        raise UnsupportedParameter(f"{request.model} takes no {unknown[0]}.", param=unknown[0])
    return {
        "prompt": request.prompt or "",
        "music_length_ms": int(request.options.get("music_length_ms") or DEFAULT_LENGTH_MS),
        "model_id": model.upstream_model,
    }


class ElevenLabsMusic(UpstreamAdapter):
    """Eleven Music (see the module)."""

    timing = JobTiming(first_s=5.0, factor=1.5, max_interval_s=30.0, deadline_s=900.0)
    inline = True

    def __init__(self, config: ProviderConfig, *, transport: Transport) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        music_body(request, model)

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        body = music_body(request, model)
        resp = await self.upstream.open(
            "POST",
            f"{self.url('v1/music')}?{query_string({'output_format': OUTPUT_FORMAT})}",
            headers={"xi-api-key": self.config.api_key or "", "Content-Type": "application/json", "Accept": "audio/*"},
            body=orjson.dumps(body),
        )
        song_id = resp.headers.get("song-id") or reference
        content_type = resp.headers.get("content-type", "").split(";")[0].strip()
        audio = await self.upstream.read_body(resp)
        if not audio:
            raise UpstreamError(f"The {self.name} provider answered the composition with no audio.")
        blob = Blob(audio, content_type if content_type.startswith("audio/") else "audio/mpeg", "music.mp3")
        outcome = Progress(
            JobStatus.COMPLETED,
            files=(GeneratedFile("audio_file", blob=blob, content_type=blob.content_type, filename=blob.filename),),
            duration_s=body["music_length_ms"] / 1000,
        )
        return Submitted(song_id, outcome=outcome)

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        return Progress(JobStatus.ERROR, message=f"The {self.name} composition {job.upstream_id} was lost.")
