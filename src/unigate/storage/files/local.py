"""Media files on local disk, for a gateway on one host: ``<media dir>/<id[:2]>/<id>`` holds the
bytes and ``<id>.json`` beside it the metadata (``metadata.py``).

A file is written to ``tmp/<id>.part`` as it arrives (in pieces of about a MiB, on a worker
thread), flushed to disk, renamed into place, and only then given its metadata (written to a
temporary name and renamed too): a file without metadata does not exist, so a reader never sees
one half written, and a crash leaves only leftovers that ``sweep`` removes. Ids are checked
(``is_file_id``) before they become paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from unigate.core.files import StoredFile
from unigate.core.media import Blob
from unigate.errors import NotFound
from unigate.storage.files.failures import unavailable_on
from unigate.storage.files.metadata import clean_filename, from_metadata, is_file_id, new_file_id, to_metadata
from unigate.storage.files.signing import LinkSigner, local_secret, secret_from_setting

T = TypeVar("T")

__all__ = ["LocalMediaStore"]

WRITE_BATCH = 1024 * 1024
"""Bytes gathered before one write on the worker thread: a thread hop per network chunk costs more."""
READ_CHUNK = 256 * 1024
LEFTOVER_AGE_S = 24 * 3600.0
"""A partial upload or a file without metadata this old was left by a crash, not being written."""


class LocalMediaStore:
    """``MediaStore`` over a folder. ``clock`` gives Unix seconds (tests move it)."""

    def __init__(
        self, root: Path, *, retention_s: float, secret: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.retention_s = retention_s
        self.clock = clock
        self._secret_setting = secret
        self._signer: LinkSigner | None = None

    async def start(self) -> None:
        def prepare() -> bytes:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            if self._secret_setting:
                return secret_from_setting(self._secret_setting)
            return local_secret(self.root)

        self._signer = LinkSigner(await asyncio.to_thread(prepare), clock=self.clock)

    async def close(self) -> None:
        return None

    @property
    def signer(self) -> LinkSigner:
        if self._signer is None:
            raise RuntimeError("the media store was used before start()")
        return self._signer

    def _paths(self, file_id: str) -> tuple[Path, Path]:
        folder = self.root / file_id[:2]
        return folder / file_id, folder / f"{file_id}.json"

    def _described(self, file_id: str, owner: str, content_type: str, size: int, filename: str) -> StoredFile:
        now = self.clock()
        return StoredFile(
            id=file_id,
            owner=owner,
            content_type=content_type,
            size=size,
            created=now,
            expires=now + self.retention_s,
            filename=clean_filename(filename),
        )

    async def put(self, owner: str, blob: Blob) -> StoredFile:
        file = self._described(new_file_id(), owner, blob.content_type, len(blob.data), blob.filename)
        # One trip to a worker thread for the whole write: an image's put is on the request's path.
        await _on_disk(self._write_whole, file, blob.data)
        return file

    def _write_whole(self, file: StoredFile, data: bytes) -> None:
        partial = self.root / "tmp" / f"{file.id}.part"
        try:
            with partial.open("xb") as out:
                _finish(out, [data])
            self._commit(partial, file)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    async def put_stream(
        self, owner: str, content_type: str, chunks: AsyncIterator[bytes], *, filename: str = ""
    ) -> StoredFile:
        file_id = new_file_id()
        partial = self.root / "tmp" / f"{file_id}.part"
        out = await _on_disk(partial.open, "xb")
        try:
            size, pending, pending_size = 0, list[bytes](), 0
            async for chunk in chunks:
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= WRITE_BATCH:
                    await _on_disk(out.writelines, pending)
                    size, pending, pending_size = size + pending_size, [], 0
            await _on_disk(_finish, out, pending)
            file = self._described(file_id, owner, content_type, size + pending_size, filename)
            await _on_disk(self._commit, partial, file)
        except BaseException:
            out.close()
            partial.unlink(missing_ok=True)
            raise
        return file

    def _commit(self, partial: Path, file: StoredFile) -> None:
        data, meta = self._paths(file.id)
        data.parent.mkdir(exist_ok=True)
        os.replace(partial, data)
        written = meta.with_suffix(".json.tmp")
        written.write_text(json.dumps(to_metadata(file)))
        os.replace(written, meta)

    async def stat(self, file_id: str) -> StoredFile | None:
        if not is_file_id(file_id):
            return None
        file = await asyncio.to_thread(self._read_stat, file_id)
        if file is None or file.expires <= self.clock():
            return None
        return file

    def _read_stat(self, file_id: str) -> StoredFile | None:
        data, meta = self._paths(file_id)
        try:
            described = json.loads(meta.read_text())
            size = data.stat().st_size
        except (OSError, ValueError):
            return None
        return from_metadata(file_id, size, described) if isinstance(described, dict) else None

    async def open(self, file: StoredFile, *, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        if not is_file_id(file.id):
            raise ValueError("not a stored file's id")
        data, _ = self._paths(file.id)
        try:
            source = await asyncio.to_thread(data.open, "rb")
        except FileNotFoundError as exc:  # deleted since its stat
            raise NotFound("No such file.", code="file_not_found") from exc
        except OSError:
            with unavailable_on(OSError):
                raise
        try:
            await asyncio.to_thread(source.seek, offset)
            left = file.size - offset if length is None else length
            while left > 0:
                piece = await asyncio.to_thread(source.read, min(READ_CHUNK, left))
                if not piece:
                    break
                left -= len(piece)
                yield piece
        finally:
            source.close()

    async def delete(self, file_id: str) -> None:
        if not is_file_id(file_id):
            return
        data, meta = self._paths(file_id)

        def remove() -> None:
            meta.unlink(missing_ok=True)  # first: without it the file no longer exists
            data.unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    def signed_url(self, file: StoredFile, base_url: str) -> str:
        return self.signer.url(file, base_url)

    def verify(self, file_id: str, expires: str, signature: str) -> bool:
        return self.signer.verify(file_id, expires, signature)

    async def sweep(self) -> int:
        return await asyncio.to_thread(self._sweep, self.clock())

    def _sweep(self, now: float) -> int:
        """Expired files, then leftovers of crashes; how many files were removed."""
        removed = 0
        for folder in self.root.iterdir():
            if folder.name == "tmp":
                _remove_older(folder.iterdir(), now - LEFTOVER_AGE_S)
            elif len(folder.name) == 2 and folder.is_dir():
                removed += self._sweep_folder(folder, now)
        return removed

    def _sweep_folder(self, folder: Path, now: float) -> int:
        removed = 0
        described: set[str] = set()
        for meta in folder.glob("*.json"):
            file_id = meta.name.removesuffix(".json")
            described.add(file_id)
            try:
                expires = float(json.loads(meta.read_text())["expires"])
            except (OSError, ValueError, KeyError, TypeError):
                expires = 0.0  # damaged: never served, so removed
            if expires <= now and is_file_id(file_id):
                meta.unlink(missing_ok=True)
                (folder / file_id).unlink(missing_ok=True)
                removed += 1
        # Bytes whose metadata never came, and metadata never renamed into place.
        bare = (p for p in folder.iterdir() if p.name not in described and not p.name.endswith(".json"))
        _remove_older(bare, now - LEFTOVER_AGE_S)
        return removed


async def _on_disk(work: Callable[..., T], *args: Any) -> T:
    """``work`` on a worker thread; the disk's failures as a 503 (not the stream's: a body that
    breaks off is its source's failure, raised as it came)."""
    with unavailable_on(OSError):
        return await asyncio.to_thread(work, *args)


def _finish(out: BinaryIO, pending: list[bytes]) -> None:
    """The last pieces written, then the bytes on disk before the rename makes them visible."""
    out.writelines(pending)
    out.flush()
    os.fsync(out.fileno())
    out.close()


def _remove_older(paths: Iterable[Path], before: float) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < before:
                path.unlink()
