"""``GET /v1/media/{id}`` (and ``HEAD``): a stored file, to whoever may have it.

Allowed: a link's ``?expires=&signature=`` that ``MediaStore.verify`` accepts (what the answers'
``url`` fields carry), or else an API key of the account that owns the file. Everything else, a
missing or expired file, another account's key, a bad or expired signature, no credentials,
gets the same 404, so that nobody learns which files exist; a key that is itself wrong gets its
401 as everywhere.

The body streams from the store (``Content-Length`` known up front). One ``Range: bytes=`` range
is honoured (206; 416 past the end); several ranges, or a malformed one, get the whole file, as
RFC 9110 allows. The answer is ``Cache-Control: private`` and carries ``nosniff`` and a
sandboxing CSP, since it is served from the gateway's own origin.
"""

from __future__ import annotations

import math
import mimetypes
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from urllib.parse import quote

from aiohttp import web

from unigate.api.auth import require_key
from unigate.api.context import MEDIA, STORE
from unigate.core.files import MediaStore, StoredFile
from unigate.errors import NotFound, RangeNotSatisfiable

__all__ = ["add_file_routes", "get_media", "serve_file"]

_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")
_INLINE = ("image/", "audio/", "video/", "text/plain", "application/pdf")
"""Types a browser may show in place; anything else is offered as a download."""


async def _allowed_file(request: web.Request, media: MediaStore, file_id: str) -> StoredFile:
    expires, signature = request.query.get("expires"), request.query.get("signature")
    signed = expires is not None and signature is not None and media.verify(file_id, expires, signature)
    owner: str | None = None
    if not signed and "Authorization" in request.headers:
        owner = str((await require_key(request, request.config_dict[STORE])).account_id)
    file = await media.stat(file_id)
    if file is None or not (signed or file.owner == owner):
        raise NotFound(
            "No such file: it does not exist, it has expired, or it belongs to another account. A link "
            "from an answer's url field carries its own signature; without one, send the key of the "
            "account whose request made the file.",
            code="file_not_found",
        )
    return file


def _window(header: str | None, size: int) -> tuple[int, int] | None:
    """``(offset, length)`` of a single satisfiable byte range, ``None`` for the whole file."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        wanted = int(last)
        if wanted == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - wanted, 0), min(wanted, size)
    start = int(first)
    if start >= size:
        raise _unsatisfiable(size)
    end = min(int(last), size - 1) if last else size - 1
    return None if end < start else (start, end - start + 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The range starts past the end of the file ({size} bytes).", headers={"Content-Range": f"bytes */{size}"}
    )


def _disposition(file: StoredFile) -> str:
    name = file.filename or file.id + (mimetypes.guess_extension(file.content_type) or "")
    kind = "inline" if file.content_type.startswith(_INLINE) else "attachment"
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace("\\", "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def get_media(request: web.Request) -> web.StreamResponse:
    media = request.config_dict[MEDIA].files
    file = await _allowed_file(request, media, request.match_info["id"])
    return await serve_file(request, media, file)


async def serve_file(request: web.Request, media: MediaStore, file: StoredFile) -> web.StreamResponse:
    """``file``'s bytes (a single ``Range`` of them when asked), to a caller allowed to read it."""
    window = _window(request.headers.get("Range"), file.size)
    offset, length = window or (0, file.size)
    left = max(math.floor(file.expires - time.time()), 0)
    response = web.StreamResponse(
        status=206 if window else 200,
        headers={
            "Content-Type": file.content_type,
            "Content-Disposition": _disposition(file),
            "Cache-Control": f"private, max-age={left}",
            "Accept-Ranges": "bytes",
            "ETag": f'"{file.id}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
    if window:
        response.headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{file.size}"
    response.content_length = length
    if request.method == "HEAD" or length == 0:
        await response.prepare(request)
        await response.write_eof()
        return response
    body = media.open(file, offset=offset, length=length if window else None)
    try:
        first = await anext(body, b"")  # before the headers: a file deleted meanwhile is still a 404
        await response.prepare(request)
        await response.write(first)
        async for piece in body:
            await response.write(piece)
        await response.write_eof()
    finally:
        await _close(body)
    return response


async def _close(body: AsyncIterator[bytes]) -> None:
    """Stops the store's read (an open file, an S3 response) when the client leaves midway."""
    if isinstance(body, AsyncGenerator):
        await body.aclose()


def add_file_routes(router: web.UrlDispatcher) -> None:
    """``GET`` and ``HEAD`` of ``/v1/media/{id}`` and ``/media/{id}``."""
    for path in ("/v1/media/{id}", "/media/{id}"):
        router.add_get(path, get_media)
