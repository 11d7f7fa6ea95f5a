"""The media endpoints' ``Downloader`` (``core/files.py``): a public URL's body as a ``Blob``
(``download``) or as it arrives (``open``), through ``fetch.py``'s ``Fetcher`` and so under all
its rules (public addresses only, pinned; redirects vetted hop by hop; time limits), with the
media types of ``media_types.py`` (images, PDF, audio, video) and a size limit per call.

It fetches what a client names (an STT job's ``url``, an OCR ``document_url``) and what an
upstream answers with (an image URL that expires, re-hosted in the media store; a generated
video, streamed into it rather than held whole). A refusal is an ``InvalidRequest`` naming the
field and the reason, raised on entering ``open`` for what the answer's head shows and from its
``chunks`` for what its body does (too large, broken off, stalled); a caller re-hosting an
upstream's URL turns it into the upstream's failure instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import unquote

from aiohttp.abc import AbstractResolver
from yarl import URL

from unigate.core.files import Download
from unigate.core.media import Blob
from unigate.errors import InvalidRequest
from unigate.providers.fetch import Fetcher, FetchError, FetchPolicy, FetchReason
from unigate.providers.media_types import DOWNLOAD_TYPES
from unigate.providers.transport.factory import fetch_proxies
from unigate.providers.transport.proxy import Proxies
from unigate.settings import Settings

__all__ = ["FetchDownloader", "download_policy", "downloader_for"]

TIMEOUT_S = 120.0
"""For a whole download: a 100 MB file at about 1 MB/s. A stream has it up to its first bytes."""
STREAM_TIMEOUT_S = 1800.0
"""For a whole stream: a 100 MB video at about 60 KB/s, from an upstream's slow file host; a
stall is caught sooner, by the policy's ``idle_s`` between two reads."""
_CODES: dict[FetchReason, str] = {
    "blocked": "invalid_url",
    "too_large": "file_too_large",
    "timeout": "url_timeout",
    "unsupported_type": "unsupported_file_type",
    "failed": "url_unreachable",
}


def download_policy(max_bytes: int) -> FetchPolicy:
    """The fetcher's rules for media: every type of ``media_types.DOWNLOAD_TYPES``."""
    return FetchPolicy(
        max_bytes=max_bytes, timeout_s=TIMEOUT_S, stream_timeout_s=STREAM_TIMEOUT_S, media_types=DOWNLOAD_TYPES
    )


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
            raise _refused(exc, param) from exc
        return Blob(fetched.data, fetched.media_type, filename=_filename(url))

    @asynccontextmanager
    async def open(self, url: str, *, max_bytes: int) -> AsyncIterator[Download]:
        async with AsyncExitStack() as stack:
            try:
                streamed = await stack.enter_async_context(self.fetcher.stream(url, max_bytes=max_bytes))
            except FetchError as exc:
                raise _refused(exc, None) from exc
            chunks = _refusing(streamed.chunks)
            stack.push_async_callback(chunks.aclose)  # before the stream's own close: it reads from it
            yield Download(streamed.media_type, _filename(url), chunks, size=streamed.size)


def _refused(exc: FetchError, param: str | None) -> InvalidRequest:
    where = f"The URL at {param}" if param else "The URL"
    return InvalidRequest(f"{where} cannot be used: {exc.message}.", param=param, code=_CODES[exc.reason])


async def _refusing(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes]:
    """``chunks``, their ``FetchError`` an ``InvalidRequest`` like ``download``'s."""
    try:
        async for piece in chunks:
            yield piece
    except FetchError as exc:
        raise _refused(exc, None) from exc


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
