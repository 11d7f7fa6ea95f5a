"""What the media adapters of this package share: one ``Upstream`` and its bearer key.

The ``Upstream`` is the one the deployment's chat adapter sends through (``registry.py`` hands it
over), so that chat and media share a connection pool; starting and closing it twice is harmless,
as ``Upstream`` does each once. xAI's adapter wraps the same transport in an ``Upstream`` of its
own, for xAI's error reader (``xai.py``).
"""

from __future__ import annotations

from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["MediaAdapter"]


class MediaAdapter(UpstreamAdapter):
    """An ``UpstreamAdapter`` over an OpenAI-shaped upstream, with its bearer key."""

    def headers(self, content_type: str | None = None, *, accept: str = "application/json") -> dict[str, str]:
        """The bearer key, and the body's type when it is not JSON sent by ``post_json``."""
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        if content_type is not None:
            headers["Content-Type"] = content_type
            headers["Accept"] = accept
        return headers
