"""The job runners of Kling, Runway, Luma and MiniMax, for ``registry.py`` to register: the first
three serve video only (``TASK_UPSTREAMS``); MiniMax, registered for chat and speech, adds its
Hailuo video and its music beside them on the same key and connections (``minimax_jobs``).
"""

from __future__ import annotations

from dataclasses import replace

from unigate.core.services import Capabilities, Modality
from unigate.providers.kling import KLING
from unigate.providers.luma import LumaVideo
from unigate.providers.minimax_music import MiniMaxMusic
from unigate.providers.minimax_video import MiniMaxVideo
from unigate.providers.registration import Registration, Upstream, upstream
from unigate.providers.runway import RunwayVideo

__all__ = ["MINIMAX_JOBS", "TASK_UPSTREAMS", "minimax_jobs"]

VIDEO = frozenset({Modality.VIDEO})
MINIMAX_JOBS = frozenset({Modality.VIDEO, Modality.MUSIC})

TASK_UPSTREAMS: tuple[Registration[Upstream], ...] = (
    KLING,
    upstream(
        "runway",
        "https://api.dev.runwayml.com",
        lambda u: Capabilities(video=RunwayVideo(u.config, transport=u.transport)),
        kind="runway",
        serves=VIDEO,
        keys=("RUNWAYML_API_SECRET", "RUNWAY_API_KEY"),
    ),
    upstream(
        "luma",
        "https://api.lumalabs.ai/dream-machine/v1",
        lambda u: Capabilities(video=LumaVideo(u.config, transport=u.transport)),
        kind="luma",
        serves=VIDEO,
        keys=("LUMAAI_API_KEY", "LUMA_API_KEY"),
    ),
)
"""Runway's key is ``RUNWAYML_API_SECRET`` and Luma's ``LUMAAI_API_KEY``, the names their own
SDKs read; Kling's is a pair (``kling/registration.py``)."""


def minimax_jobs(u: Upstream, built: Capabilities) -> Capabilities:
    """A ``minimax`` deployment's capabilities with its video and music runners beside them."""
    return replace(
        built,
        video=MiniMaxVideo(u.config, transport=u.transport),
        music=MiniMaxMusic(u.config, transport=u.transport),
    )
