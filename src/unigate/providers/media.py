"""Images and documents as the native APIs want them: ``data:`` URIs split into media type and
base64, URLs recognised, file parts decoded. The gateway never fetches a client's URL here."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from urllib.parse import urlsplit

from unigate.core.chat import FilePart, ImagePart
from unigate.errors import UnsupportedContent

__all__ = ["Inline", "Remote", "file_source", "image_source"]


@dataclass(frozen=True, slots=True)
class Inline:
    media_type: str
    data: str
    """Base64, as it came."""


@dataclass(frozen=True, slots=True)
class Remote:
    url: str
    media_type: str | None
    """Guessed from the URL's extension; ``None`` when it has none we know."""


def _data_uri(uri: str, param: str) -> Inline:
    header, comma, data = uri.partition(",")
    media_type, _, encoding = header.removeprefix("data:").partition(";")
    if not comma or encoding.lower() != "base64" or not data:
        raise UnsupportedContent("Only base64 data: URIs (data:<type>;base64,<data>) are supported.", param=param)
    return Inline(media_type.lower() or "application/octet-stream", data)


def image_source(part: ImagePart, param: str) -> Inline | Remote:
    """An image part as inline base64 or an http(s) URL for the upstream to fetch."""
    if part.url.startswith("data:"):
        return _data_uri(part.url, param)
    scheme = urlsplit(part.url).scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsupportedContent("An image URL must be http(s) or a base64 data: URI.", param=param)
    guessed, _ = mimetypes.guess_type(urlsplit(part.url).path)
    return Remote(part.url, guessed)


def file_source(part: FilePart, param: str) -> Inline:
    """A file part's bytes: ``file_data`` as a data: URI or bare base64 (then a PDF, unless the
    filename says otherwise). Uploaded ``file_id``s belong to one upstream's file store."""
    if part.file_id is not None and part.file_data is None:
        raise UnsupportedContent("file_id is not supported by this model's provider; send file_data.", param=param)
    if not part.file_data:
        raise UnsupportedContent("A file part needs file_data.", param=param)
    if part.file_data.startswith("data:"):
        return _data_uri(part.file_data, param)
    guessed, _ = mimetypes.guess_type(part.filename or "")
    return Inline(guessed or "application/pdf", part.file_data)
