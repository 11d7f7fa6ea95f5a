"""The chat providers whose developers also run video jobs (OpenAI's Sora, Google's Veo, Alibaba's
Wan, ByteDance's Seedance), each deployment's runner built beside its chat adapter:
``registry.py`` adds them with ``_adding``, as it adds their images and speech.

Sora goes through the chat adapter's ``Upstream`` (one connection pool, as ``OpenAIMedia``); Veo
through the Gemini chat adapter's, with a fetcher of its own for input images and videos (the
chat fetcher takes no video), behind the same proxy settings; Wan and Seedance build an
``Upstream`` with their own error readers over the deployment's transport, as their images do.
"""

from __future__ import annotations

from dataclasses import replace

from unigate.core.services import Capabilities
from unigate.providers.dashscope.video import DashScopeVideo
from unigate.providers.fetch import Fetcher
from unigate.providers.gemini import GeminiProvider
from unigate.providers.gemini.video import INPUT_POLICY, GeminiVideo
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_media.video import OpenAIVideo
from unigate.providers.registration import Upstream
from unigate.providers.seedance_video import SeedanceVideo
from unigate.providers.speech_upstreams import Adding

__all__ = ["adding_video"]


def _sora(u: Upstream, built: Capabilities) -> Capabilities:
    if not isinstance(built.chat, OpenAICompatProvider):
        raise TypeError("the openai registration's chat adapter is not an OpenAICompatProvider")
    return replace(built, video=OpenAIVideo(built.chat.upstream))


def _veo(u: Upstream, built: Capabilities) -> Capabilities:
    if not isinstance(built.chat, GeminiProvider):
        raise TypeError("the gemini registration's chat adapter is not a GeminiProvider")
    return replace(built, video=GeminiVideo(built.chat.upstream, Fetcher(INPUT_POLICY, proxies=u.fetch_proxies)))


def _wan(u: Upstream, built: Capabilities) -> Capabilities:
    return replace(built, video=DashScopeVideo(u.config, transport=u.transport))


def _seedance(u: Upstream, built: Capabilities) -> Capabilities:
    return replace(built, video=SeedanceVideo(u.config, transport=u.transport))


def adding_video() -> dict[str, Adding]:
    """The chat providers that also run video jobs, by name, and how each deployment's runner is
    built beside its chat adapter."""
    return {"openai": _sora, "gemini": _veo, "alibaba": _wan, "bytedance": _seedance}
