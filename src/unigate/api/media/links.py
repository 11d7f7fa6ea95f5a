"""The URLs of stored files in an answer: signed links under the server's public address (the
``UNIGATE_PUBLIC_URL`` setting when it is behind a proxy, else the address the client used), so
that an SDK or a browser downloads them without a key."""

from __future__ import annotations

from aiohttp import web

from unigate.api.context import MEDIA, SETTINGS
from unigate.core.files import StoredFile

__all__ = ["base_url", "file_url"]


def base_url(request: web.Request) -> str:
    configured = request.app[SETTINGS].media.public_url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"


def file_url(request: web.Request, file: StoredFile) -> str:
    return request.app[MEDIA].files.signed_url(file, base_url(request))
