"""Kling's registration: a provider whose credential is two values, an access key and a secret
key, from which each request's token is made (``auth.py``).

The provider's key variable is ``KLING_ACCESS_KEY``; ``KLING_SECRET_KEY`` is paired with it here,
so that each deployment's key is ``ACCESS:SECRET``. A deployment of ``[providers.kling]`` whose
``api_key``/``api_key_env`` already holds such a pair keeps it (deployments on other accounts
have their own secrets); without a secret for a deployment, Kling answers 503 naming
``KLING_SECRET_KEY``, as for any provider without its key.
"""

from __future__ import annotations

from dataclasses import replace

from unigate.core.services import Capabilities, Modality
from unigate.providers.kling.runner import KlingVideo
from unigate.providers.registration import Registration, Setup, Upstream, upstream
from unigate.settings import Settings

__all__ = ["ACCESS_KEY", "KLING", "SECRET_KEY"]

ACCESS_KEY = "KLING_ACCESS_KEY"
SECRET_KEY = "KLING_SECRET_KEY"
BASE_URL = "https://api-singapore.klingai.com"


def _video(u: Upstream) -> Capabilities:
    return Capabilities(video=KlingVideo(u.config, transport=u.transport))


_PLAIN = upstream("kling", BASE_URL, _video, kind="kling", serves=frozenset({Modality.VIDEO}), keys=(ACCESS_KEY,))


def _paired(settings: Settings) -> Setup[Upstream] | None:
    setup = _PLAIN.settings(settings)
    if setup is None or not setup.deployments:
        return setup
    secret = settings.provider_env.get(SECRET_KEY, "")
    paired: list[Upstream] = []
    for u in setup.deployments:
        key = u.config.api_key or ""
        if ":" not in key:
            if not secret:
                return Setup(missing=SECRET_KEY)
            key = f"{key}:{secret}"
        paired.append(replace(u, config=replace(u.config, api_key=key)))
    return Setup(tuple(paired))


KLING: Registration[Upstream] = replace(_PLAIN, settings=_paired)
"""For ``registry.py`` to register."""
