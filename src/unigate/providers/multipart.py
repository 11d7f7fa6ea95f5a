"""``multipart/form-data`` bodies for upstreams that take file uploads (OpenAI's image edits and
transcriptions, ElevenLabs, Mistral's file uploads): built in memory, as the files they carry
have been read and size-checked already."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping

from unigate.core.media import Blob

__all__ = ["encode_multipart"]


def _quoted(value: str) -> str:
    # RFC 7578: names are quoted strings; a quote or line break in one would end the header.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_multipart(
    fields: Mapping[str, str | Iterable[str]], files: Iterable[tuple[str, Blob]] = ()
) -> tuple[bytes, str]:
    """The body and its ``Content-Type`` (with the boundary). A field whose value is a list of
    strings is sent once per item under the same name (``timestamp_granularities[]``)."""
    boundary = "unigate" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        for item in [value] if isinstance(value, str) else value:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
            parts.append(head.encode() + item.encode() + b"\r\n")
    for name, blob in files:
        filename = _quoted(blob.filename or "file")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; filename="{filename}"\r\n'
            f"Content-Type: {blob.content_type}\r\n\r\n"
        )
        parts.append(head.encode() + blob.data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
