"""Doubles for the media flow's collaborators: a media store in memory (the real ones are
tested in tests/storage) and a downloader that serves a table of URLs."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from unigate.core.files import Download, StoredFile
from unigate.core.media import Blob
from unigate.errors import InvalidRequest


class MemoryMediaStore:
    def __init__(self, *, fail_puts_after: int | None = None) -> None:
        self.files: dict[str, tuple[StoredFile, bytes]] = {}
        self.puts = 0
        self.fail_puts_after = fail_puts_after

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def _stored(self, owner: str, content_type: str, data: bytes, filename: str) -> StoredFile:
        self.puts += 1
        if self.fail_puts_after is not None and self.puts > self.fail_puts_after:
            raise OSError("the disk is full")
        now = time.time()
        file = StoredFile(secrets.token_urlsafe(16), owner, content_type, len(data), now, now + 3600, filename)
        self.files[file.id] = (file, data)
        return file

    async def put(self, owner: str, blob: Blob) -> StoredFile:
        return self._stored(owner, blob.content_type, blob.data, blob.filename)

    async def put_stream(
        self, owner: str, content_type: str, chunks: AsyncIterator[bytes], *, filename: str = ""
    ) -> StoredFile:
        data = b"".join([c async for c in chunks])
        return self._stored(owner, content_type, data, filename)

    async def stat(self, file_id: str) -> StoredFile | None:
        found = self.files.get(file_id)
        return None if found is None else found[0]

    async def open(self, file: StoredFile, *, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        data = self.files[file.id][1]
        yield data[offset:] if length is None else data[offset : offset + length]

    async def delete(self, file_id: str) -> None:
        self.files.pop(file_id, None)

    def signed_url(self, file: StoredFile, base_url: str) -> str:
        return f"{base_url}/v1/media/{file.id}?expires={int(file.expires)}&signature=test"

    def verify(self, file_id: str, expires: str, signature: str) -> bool:
        return signature == "test"

    async def sweep(self) -> int:
        return 0


class TableDownloader:
    def __init__(self, table: Mapping[str, Blob]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def download(self, url: str, *, max_bytes: int, param: str | None = None) -> Blob:
        self.asked.append(url)
        blob = self.table.get(url)
        if blob is None:
            raise InvalidRequest(f"Could not fetch {url}.")
        if len(blob.data) > max_bytes:
            raise InvalidRequest(f"{url} is larger than {max_bytes} bytes.")
        return blob

    @asynccontextmanager
    async def open(self, url: str, *, max_bytes: int) -> AsyncIterator[Download]:
        blob = await self.download(url, max_bytes=max_bytes)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(blob.data), 1024):
                yield blob.data[start : start + 1024]

        yield Download(blob.content_type, blob.filename, chunks(), len(blob.data))
