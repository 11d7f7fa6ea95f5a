"""Every provider's generation-job runners in one list for ``registry.py``: the providers that
run jobs only (Kling, Runway, Luma: ``task_upstreams.py``; PixVerse, Stability:
``generation_upstreams.py``), and the runners added beside other modalities of providers already
registered (Sora, Veo, Wan, Seedance: ``video_upstreams.py``; MiniMax video and music; fal's
queue, ElevenLabs music)."""

from __future__ import annotations

from unigate.core.services import Modality
from unigate.providers.generation_upstreams import GENERATION_UPSTREAMS, adding_generation
from unigate.providers.registration import Registration, Upstream
from unigate.providers.speech_upstreams import Adding
from unigate.providers.task_upstreams import MINIMAX_JOBS, TASK_UPSTREAMS, minimax_jobs
from unigate.providers.video_upstreams import adding_video

__all__ = ["JOB_UPSTREAMS", "adding_jobs"]

JOB_UPSTREAMS: tuple[Registration[Upstream], ...] = (*TASK_UPSTREAMS, *GENERATION_UPSTREAMS)

_VIDEO = frozenset({Modality.VIDEO})


def adding_jobs() -> dict[str, tuple[frozenset[Modality], Adding]]:
    """The registered providers that also run jobs: what each adds, and how it builds it."""
    added: dict[str, tuple[frozenset[Modality], Adding]] = {
        name: (_VIDEO, build) for name, build in adding_video().items()
    }
    added["minimax"] = (MINIMAX_JOBS, minimax_jobs)
    for name, (modalities, build) in adding_generation().items():
        if name in added:
            raise ValueError(f"{name} adds its job runners twice")
        added[name] = (modalities, build)
    return added
