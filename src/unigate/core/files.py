"""Where generated media goes, and how the gateway fetches a URL: the two protocols the media
flow needs from the layers above it (``storage/files/`` implements ``MediaStore``; the app wires
``providers/fetch.py``'s ``Fetcher`` as the ``Downloader``).

A stored file belongs to the account whose request made it. Its id is unguessable; it is served
at ``GET /v1/media/{id}`` to that account's keys, or to anyone holding a signed link that has not
expired (what the answers' ``url`` fields carry, since the SDKs and browsers that download them
send no key). Files are removed after the retention period.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from unigate.core.media import Blob
from unigate.primitives.records import record

__all__ = ["Download", "Downloader", "MediaStore", "StoredFile"]


@record
class StoredFile:
    id: str
    owner: str
    """The account id of the request that made it."""
    content_type: str
    size: int
    created: float
    """Unix seconds."""
    expires: float
    """Unix seconds: removed after this."""
    filename: str = ""


class MediaStore(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, owner: str, blob: Blob) -> StoredFile:
        """Store ``blob`` for ``owner`` until the retention period ends."""
        ...

    async def put_stream(
        self, owner: str, content_type: str, chunks: AsyncIterator[bytes], *, filename: str = ""
    ) -> StoredFile:
        """Store a body that arrives in pieces, never holding it whole."""
        ...

    async def stat(self, file_id: str) -> StoredFile | None:
        """The file, or ``None`` when there is none (or it has expired)."""
        ...

    def open(self, file: StoredFile, *, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The file's bytes, in pieces: ``length`` of them (default: the rest) from ``offset``
        (a ``Range`` request's)."""
        ...

    async def delete(self, file_id: str) -> None: ...

    def signed_url(self, file: StoredFile, base_url: str) -> str:
        """``{base_url}/v1/media/{id}?expires=...&signature=...``: valid until the file expires."""
        ...

    def verify(self, file_id: str, expires: str, signature: str) -> bool:
        """Whether a signed link's query is genuine and unexpired."""
        ...

    async def sweep(self) -> int:
        """Remove the files whose retention has ended; how many."""
        ...


@record
class Download:
    """A body being downloaded: its media type (declared, or sniffed from its first bytes), the
    name its URL gives, and its pieces (the size limit checked as they arrive)."""

    content_type: str
    filename: str
    chunks: AsyncIterator[bytes]
    size: int | None = None
    """As the server declared it, when it did."""


class Downloader(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def download(self, url: str, *, max_bytes: int, param: str | None = None) -> Blob:
        """The body at a public URL (vetted: never a private address; at most ``max_bytes``);
        raises ``InvalidRequest`` naming what was wrong with it, for the request field ``param``."""
        ...

    def open(self, url: str, *, max_bytes: int) -> AbstractAsyncContextManager[Download]:
        """The body at a public URL under the same rules as ``download``, streamed rather than held
        whole (a generated video re-hosted into the ``MediaStore``); raises as ``download``, also
        from ``chunks`` when the body outgrows ``max_bytes`` or breaks off."""
        ...
