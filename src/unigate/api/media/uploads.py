"""Request bodies of the media endpoints: JSON, or ``multipart/form-data`` with files, read with a
size limit that holds before anything is buffered (a ``Content-Length`` over it is refused at
once; a body that turns out larger is refused as soon as it passes it), and inputs given as
``data:`` URIs or base64 strings decoded into ``Blob``s."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from unigate.api.requests import read_json
from unigate.core.media import Blob, Source
from unigate.errors import InvalidRequest, PayloadTooLarge
from unigate.providers.fetch import FetchError, FetchPolicy, vet_url

__all__ = ["Form", "image_type", "read_form", "source_of"]

_CHUNK = 64 * 1024
_POLICY = FetchPolicy()
_DATA_URI = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?:;[\w=.+-]+)*;base64,", re.ASCII)


class Form:
    """A body's fields (JSON values, or strings from a form) and its files by field name."""

    def __init__(self, fields: dict[str, Any], files: dict[str, list[Blob]], *, multipart: bool = False) -> None:
        self.fields = fields
        self.files = files
        self.multipart = multipart
        """Sent as a form: every field is a string (numbers and booleans are parsed per field)."""

    def file(self, *names: str) -> Blob | None:
        """The first file sent under any of ``names``."""
        for name in names:
            if self.files.get(name):
                return self.files[name][0]
        return None

    def all_files(self, *names: str) -> list[Blob]:
        return [blob for name in names for blob in self.files.get(name, [])]


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The upload is larger than this server accepts ({limit // (1024 * 1024)} MB).")


_MALFORMED = (HttpProcessingError, ValueError, AssertionError)
"""What aiohttp's multipart reader raises on a malformed body (a part's bad header, a broken
boundary): the client's mistake, a 400, not a 500."""


async def _next_part(reader: MultipartReader) -> MultipartReader | BodyPartReader | None:
    try:
        return await reader.next()
    except _MALFORMED as exc:
        raise InvalidRequest(f"The multipart body could not be read: {exc}.") from None


async def _chunk(part: BodyPartReader) -> bytes:
    try:
        return await part.read_chunk(_CHUNK)
    except _MALFORMED as exc:
        raise InvalidRequest(f"The multipart body could not be read: {exc}.") from None


async def read_form(request: web.Request, *, max_bytes: int) -> Form:
    """The body as a ``Form``: multipart when the client sent that, else a JSON object."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    if request.content_type != "multipart/form-data":
        return Form(await read_json(request), {})
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError) as exc:  # aiohttp's complaints about a malformed head
        raise InvalidRequest(f"The multipart body could not be read: {exc}.") from None
    fields: dict[str, Any] = {}
    files: dict[str, list[Blob]] = {}
    total = 0
    while True:
        part = await _next_part(reader)
        if part is None:
            break
        if not isinstance(part, BodyPartReader) or not part.name:
            raise InvalidRequest("Every part of the multipart body must be a named field or file.")
        name = part.name.removesuffix("[]")  # OpenAI's SDK sends image[] for several files
        data = bytearray()
        while chunk := await _chunk(part):
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(max_bytes)
            data += chunk
        if part.filename is not None:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            files.setdefault(name, []).append(Blob(bytes(data), content_type, part.filename))
            continue
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise InvalidRequest(f"The form field {name!r} is not UTF-8 text.", param=name) from None
        if name in fields:  # a repeated field (timestamp_granularities[]) becomes a list
            previous = fields[name]
            fields[name] = [*previous, text] if isinstance(previous, list) else [previous, text]
        else:
            fields[name] = [text] if part.name.endswith("[]") else text
    return Form(fields, files, multipart=True)


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes) -> str | None:
    """The image type of ``data`` by its first bytes (PNG, JPEG, GIF, WebP); ``None``: not one."""
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def source_of(value: Any, param: str, *, kinds: tuple[str, ...] = ("image/",)) -> Source:
    """A client's input file given as a URL, a ``data:`` URI or bare base64 (of ``kinds``)."""
    if isinstance(value, Mapping):  # {"url": ...} as some SDKs send image inputs
        value = value.get("url") or value.get("image_url")
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{param}' must be a URL or a base64 data URI.", param=param)
    if value.startswith(("http://", "https://")):
        try:
            # Upstreams fetch some URLs themselves: a private or internal address is refused here
            # too, whoever would fetch it (names are vetted again when the gateway resolves them).
            vet_url(value, _POLICY)
        except FetchError as exc:
            raise InvalidRequest(f"'{param}' cannot be used: {exc}.", param=param, code="invalid_url") from None
        return Source(url=value)
    match = _DATA_URI.match(value)
    content_type = (match.group("type") if match else None) or "application/octet-stream"
    encoded = value[match.end() :] if match else value
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            f"'{param}' must be an http(s) URL or base64 data (a data: URI or bare base64).", param=param
        ) from None
    if match and not content_type.startswith(kinds):
        raise InvalidRequest(f"'{param}' is {content_type}, not a file of the type this field takes.", param=param)
    return Source(blob=Blob(data, content_type))
