"""Deterministic generation-job models for tests and the benchmark, beside the other fake models
(``UNIGATE_FAKE_MODELS=1``): ``fake/video`` (an upstream that runs tasks), ``fake/music`` (one
that runs the job within its call, ``inline``) and ``fake/3d``.

A job's course is fixed at submission and kept in its state (so any replica polls it alike): it
is ``queued``, then ``generating`` from half its wait, then ``completed`` with a small file.
The prompt drives it: ``WAIT:<seconds>`` sets the wait (none by default), ``FAIL`` ends it in
error, ``LOST`` makes the upstream forget it, ``SUBMIT-FAIL`` refuses the submission (502),
``REJECT`` refuses it as invalid (400), ``URL`` returns the file as an upstream URL (the
gateway fetches and re-hosts it), ``FLAKY`` fails every other poll (a transient error).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from unigate.catalog.spec import ModelSpec, UnitPrice
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.fake_media import fake_spec_of

__all__ = ["FAKE_JOB_MODELS", "FAKE_VIDEO_URL", "FakeJobs", "fake_video"]

FAKE_VIDEO_URL = "http://fake-upstream.invalid/video.mp4"
"""Where a video prompted ``URL`` is returned: tests route the downloader there, or a replica
through an HTTP proxy they run (a name that does not resolve is the proxy's to reach)."""

_WAIT = re.compile(r"WAIT:(\d+(?:\.\d+)?)")


def fake_video(seconds: float) -> bytes:
    """An MP4 ``ftyp`` box and filler: enough for a type sniffer, not a playable film. The filler
    grows with the length up to ten minutes' worth, so that no duration a balance can pay for
    (a fake second costs little) makes a file larger than memory."""
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * int(64 * min(max(seconds, 1), 600))


FAKE_JOB_MODELS = (
    fake_spec_of(
        "fake/video",
        "video",
        ("/v2/video/generations",),
        UnitPrice("second", 1_000 * 1_000_000, {"1080p:*": 2_000 * 1_000_000}, source="configured"),
    ),
    fake_spec_of(
        "fake/music", "music", ("/v2/generate/audio",), UnitPrice("generation", 5_000 * 1_000_000, source="configured")
    ),
    fake_spec_of(
        "fake/3d", "3d", ("/v2/generate/3d",), UnitPrice("generation", 3_000 * 1_000_000, source="configured")
    ),
)
"""Priced in round credits: 1,000 per second of video (2,000 at 1080p), 5,000 per song, 3,000
per mesh. Their request fields are free (no reference schema): ``duration`` in seconds (5 by
default), ``resolution``."""

_FILES = {"video": ("video", "video/mp4", "video.mp4"), "music": ("audio_file", "audio/mpeg", "music.mp3")}
_FILES["3d"] = ("model_mesh", "model/gltf-binary", "mesh.glb")


class FakeJobs:
    """One runner of the fake job models; ``inline`` for the music one."""

    name = "fake"

    def __init__(self, *, inline: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.inline = inline
        self.timing = JobTiming(first_s=0.05, factor=1.5, max_interval_s=0.5, deadline_s=600.0)
        self.clock = clock
        self.submissions: list[str] = []
        """The references submitted, in order (tests count them: never one twice)."""
        self.polls = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        if "REJECT-EARLY" in (request.prompt or ""):
            raise InvalidRequest("The fake model refuses this prompt.", param="prompt")

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        prompt = request.prompt or ""
        if "SUBMIT-FAIL" in prompt:
            raise UpstreamError("The fake upstream could not take the job.")
        if "REJECT" in prompt:
            raise InvalidRequest("The fake upstream refuses this prompt.", param="prompt")
        self.submissions.append(reference)
        found = _WAIT.search(prompt)
        wait = float(found[1]) if found else 0.0
        state = {"ready_at": self.clock() + wait, "wait": wait, "prompt": prompt, "seconds": request.duration_s or 5}
        submitted = Submitted(upstream_id=f"fake-{reference[:12]}", state=state)
        if not self.inline:
            return submitted
        await asyncio.sleep(wait)
        return Submitted(submitted.upstream_id, state, outcome=self._outcome(model, state))

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        self.polls += 1
        state = job.state
        prompt = str(state.get("prompt", ""))
        if "FLAKY" in prompt and self.polls % 2:
            raise UpstreamError("The fake upstream is briefly unreachable.")
        if "LOST" in prompt:
            return Progress(JobStatus.ERROR, message=f"The fake upstream has no job {job.upstream_id}: it was lost.")
        left = float(state["ready_at"]) - self.clock()
        if left > 0:
            generating = left <= float(state.get("wait", 0)) / 2
            return Progress(JobStatus.GENERATING if generating else JobStatus.QUEUED)
        return self._outcome(model, state)

    def _outcome(self, model: ModelSpec, state: Mapping[str, Any]) -> Progress:
        prompt = str(state.get("prompt", ""))
        if "FAIL" in prompt:
            return Progress(JobStatus.ERROR, message="The fake model could not make this.")
        field, kind, name = _FILES[model.type]
        seconds = float(state.get("seconds") or 5)
        if "URL" in prompt:
            file = GeneratedFile(field=field, url=FAKE_VIDEO_URL, content_type=kind)
        else:
            file = GeneratedFile(field=field, blob=Blob(fake_video(seconds), kind, name), filename=name)
        return Progress(JobStatus.COMPLETED, files=(file,), duration_s=seconds, details={"seed": 42})
