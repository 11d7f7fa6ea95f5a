"""Generation-job upstreams (video, music, 3D; ``core/jobs.py``) for ``registry.py``: PixVerse and
Stability AI, which serve only jobs (``GENERATION_UPSTREAMS``); and the job runners that fal
(its video, music and 3D apps) and ElevenLabs (Eleven Music) add beside their image and speech
adapters, on the same key and deployments (``adding_generation``).
"""

from __future__ import annotations

from dataclasses import replace

from unigate.core.services import Capabilities, Modality
from unigate.providers.elevenlabs import ElevenLabsMusic
from unigate.providers.fal import FalJobs
from unigate.providers.pixverse import PixVerseJobs
from unigate.providers.registration import Registration, Upstream, upstream
from unigate.providers.speech_upstreams import Adding
from unigate.providers.stability import StabilityAudio

__all__ = ["GENERATION_UPSTREAMS", "JOBS", "adding_generation"]

JOBS = frozenset({Modality.VIDEO, Modality.MUSIC, Modality.THREE_D})


def _pixverse(u: Upstream) -> Capabilities:
    return Capabilities(video=PixVerseJobs(u.config, transport=u.transport, fetch_proxies=u.fetch_proxies))


def _stability(u: Upstream) -> Capabilities:
    return Capabilities(music=StabilityAudio(u.config, transport=u.transport))


def _fal_jobs(u: Upstream, built: Capabilities) -> Capabilities:
    jobs = FalJobs(u.config, transport=u.transport)
    return replace(built, video=jobs, music=jobs, three_d=jobs)


def _eleven_music(u: Upstream, built: Capabilities) -> Capabilities:
    return replace(built, music=ElevenLabsMusic(u.config, transport=u.transport))


GENERATION_UPSTREAMS: tuple[Registration[Upstream], ...] = (
    upstream(
        "pixverse",
        "https://app-api.pixverse.ai",
        _pixverse,
        kind="pixverse",
        serves=frozenset({Modality.VIDEO}),
        keys=("PIXVERSE_API_KEY",),
    ),
    upstream(
        "stability",
        "https://api.stability.ai",
        _stability,
        kind="stability",
        serves=frozenset({Modality.MUSIC}),
        keys=("STABILITY_API_KEY",),
    ),
)


def adding_generation() -> dict[str, tuple[frozenset[Modality], Adding]]:
    """The providers registered for other media that also run jobs, by name: the modalities and
    how each deployment's runner is built beside the adapters it has."""
    return {"fal": (JOBS, _fal_jobs), "elevenlabs": (frozenset({Modality.MUSIC}), _eleven_music)}
