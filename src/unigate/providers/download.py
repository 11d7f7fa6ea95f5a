"""The media endpoints' ``Downloader`` (``core/files.py``): a public URL's body as a ``Blob``,
through ``fetch.py``'s ``Fetcher`` and so under all its rules (public addresses only, pinned;
redirects vetted hop by hop; a time limit), with the media types of ``media_types.py`` (images,
PDF, audio, video) and a size limit per call.

It fetches what a client names (an STT job's ``url``, an OCR ``document_url``) and what an
upstream answers with (an image URL that expires, re-hosted in the media store). A refusal is an
``InvalidRequest`` naming the field and the reason; a caller re-hosting an upstream's URL turns
it into the upstream's failure instead.
"""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp.abc import AbstractResolver
from yarl import URL

from unigate.core.media import Blob
from unigate.errors import InvalidRequest
from unigate.providers.fetch import Fetcher, FetchError, FetchPolicy, FetchReason
from unigate.providers.media_types import DOWNLOAD_TYPES
from unigate.providers.transport.factory import fetch_proxies
from unigate.providers.transport.proxy import Proxies
from unigate.settings import Settings

__all__ = ["FetchDownloader", "download_policy", "downloader_for"]

TIMEOUT_S = 120.0
"""For a whole download: a 100 MB file at about 1 MB/s."""
_CODES: dict[FetchReason, str] = {
    "blocked": "invalid_url",
    "too_large": "file_too_large",
    "timeout": "url_timeout",
    "unsupported_type": "unsupported_file_type",
    "failed": "url_unreachable",
}


def download_policy(max_bytes: int) -> FetchPolicy:
    """The fetcher's rules for media: every type of ``media_types.DOWNLOAD_TYPES``."""
    return FetchPolicy(max_bytes=max_bytes, timeout_s=TIMEOUT_S, media_types=DOWNLOAD_TYPES)


class FetchDownloader:
    """``Downloader`` over a ``Fetcher`` of its own; started and closed with the app."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher

    async def start(self) -> None:
        await self.fetcher.start()

    async def close(self) -> None:
        await self.fetcher.close()

    async def download(self, url: str, *, max_bytes: int, param: str | None = None) -> Blob:
        try:
            fetched = await self.fetcher.fetch(url, max_bytes=max_bytes)
        except FetchError as exc:
            where = f"The URL at {param}" if param else "The URL"
            raise InvalidRequest(
                f"{where} cannot be used: {exc.message}.", param=param, code=_CODES[exc.reason]
            ) from exc
        return Blob(fetched.data, fetched.media_type, filename=_filename(url))


def _filename(url: str) -> str:
    """The last path segment, as a download name (cleaned again where it is shown)."""
    try:
        return unquote(URL(url).path.rsplit("/", 1)[-1])[:200]
    except ValueError:
        return ""


def downloader_for(
    settings: Settings, *, resolver: AbstractResolver | None = None, proxies: Proxies | None = None
) -> FetchDownloader:
    """The downloader the settings ask for: ``media.max_download_bytes`` by default, through the
    egress proxy only with ``UNIGATE_FETCH_VIA_PROXY`` (``fetch.py`` says why)."""
    policy = download_policy(settings.media.max_download_bytes)
    return FetchDownloader(Fetcher(policy, resolver=resolver, proxies=proxies or fetch_proxies(settings)))
