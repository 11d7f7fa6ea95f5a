"""``AssemblyAITranscriber``: AssemblyAI's pre-recorded transcription, which runs as a job.

1. ``POST /v2/upload`` with the audio bytes answers ``{upload_url}`` (readable by AssemblyAI only);
2. ``POST /v2/transcript`` with ``{audio_url, speech_models, ...}`` answers the transcript, queued;
3. ``GET /v2/transcript/{id}`` until its ``status`` is ``completed`` or ``error``, waiting longer
   between polls (``PollPolicy``) and giving up at a deadline with a 504.

The key goes in the ``authorization`` header as it is. Cancelling the awaiting task stops the
polling at once: the wait between polls is the only place it sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from unigate.catalog.spec import ModelSpec
from unigate.core.media import Transcript, TranscriptionRequest
from unigate.errors import UnsupportedParameter, UpstreamError, UpstreamTimeout
from unigate.providers.assemblyai.errors import failed_transcript, parse_error
from unigate.providers.assemblyai.transcript import transcript, transcript_body
from unigate.providers.config import ProviderConfig
from unigate.providers.http import Upstream
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["AssemblyAITranscriber", "PollPolicy"]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often a transcript is polled: ``first_s``, then each wait ``factor`` times the last,
    at most ``max_s``; no later than ``deadline_s`` after the upload (``None``: the provider's
    total timeout, which stays below the gateway's reservation TTL)."""

    first_s: float = 1.0
    factor: float = 1.5
    max_s: float = 10.0
    deadline_s: float | None = None


class AssemblyAITranscriber(UpstreamAdapter):
    """AssemblyAI transcription jobs (see the module); ``sleep`` and ``clock`` are injected for tests."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: Transport,
        poll: PollPolicy = PollPolicy(),
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))
        self.poll = poll
        self.sleep = sleep
        self.clock = clock

    def _headers(self) -> dict[str, str]:
        return {"authorization": self.config.api_key or ""}

    def check_transcription(self, request: TranscriptionRequest, model: ModelSpec) -> None:
        if request.task == "translate":
            raise UnsupportedParameter("AssemblyAI transcribes; it does not translate.", param="task")

    async def transcribe(self, request: TranscriptionRequest, model: ModelSpec) -> Transcript:
        started = self.clock()
        uploaded = await self.upstream.request_json(
            "POST",
            self.url("v2/upload"),
            headers={**self._headers(), "Content-Type": "application/octet-stream"},
            body=request.audio.data,
        )
        upload_url = uploaded.get("upload_url") if isinstance(uploaded, dict) else None
        if not upload_url:
            raise UpstreamError(f"The {self.name} provider's upload answered without an upload_url.")
        body = transcript_body(request, model.upstream_model, str(upload_url))
        answer = await self.upstream.post_json(self.url("v2/transcript"), headers=self._headers(), body=body)
        return await self._finished(answer, started)

    async def _finished(self, answer: Any, started: float) -> Transcript:
        deadline = self.poll.deadline_s if self.poll.deadline_s is not None else self.config.timeouts.total_s
        wait = self.poll.first_s
        while True:
            if not isinstance(answer, Mapping) or not answer.get("id"):
                raise UpstreamError(f"The {self.name} provider answered with no transcript.")
            transcript_id = str(answer["id"])
            status = answer.get("status")
            if status == "completed":
                return transcript(answer)
            if status == "error":
                raise failed_transcript(self.name, transcript_id, str(answer.get("error") or ""))
            if self.clock() - started + wait > deadline:
                raise UpstreamTimeout(
                    f"The {self.name} provider did not finish transcript {transcript_id} within {deadline:g} s."
                )
            await self.sleep(wait)
            wait = min(wait * self.poll.factor, self.poll.max_s)
            answer = await self.upstream.request_json(
                "GET", self.url(f"v2/transcript/{quote(transcript_id, safe='')}"), headers=self._headers()
            )
