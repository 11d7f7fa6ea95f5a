"""A stored file's id and the metadata kept with it, in the form both backends write: string
values only (S3 user metadata is HTTP headers, so non-ASCII filenames travel percent-encoded).

An id is 160 random bits from ``secrets`` in lowercase hexadecimal: unguessable (it is the only
thing between a file and anyone holding its owner's key or a link), safe as a file name on any
filesystem (no case, no separators) and as an object key. Every id from a URL is checked against
that alphabet and length before it reaches a path or a key.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping
from urllib.parse import quote, unquote

from unigate.core.files import StoredFile

__all__ = ["ID_BYTES", "clean_filename", "from_metadata", "is_file_id", "new_file_id", "to_metadata"]

ID_BYTES = 20
_ID = re.compile(rf"[0-9a-f]{{{2 * ID_BYTES}}}")
_FILENAME_LIMIT = 200


def new_file_id() -> str:
    return secrets.token_hex(ID_BYTES)


def is_file_id(value: str) -> bool:
    """Whether ``value`` has the form of an id (and so may become a path or key)."""
    return _ID.fullmatch(value) is not None


def clean_filename(name: str) -> str:
    """``name`` as a download name: its last path component, without control characters or
    quotes, at most 200 characters. Only ever shown in ``Content-Disposition``, never a path."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in base if unicodedata.category(c)[0] != "C" and c not in '"')
    return kept.strip().lstrip(".")[:_FILENAME_LIMIT]


def to_metadata(file: StoredFile) -> dict[str, str]:
    """What is kept with the bytes, besides the id (the name) and the size (the bytes' own)."""
    return {
        "owner": file.owner,
        "content-type": file.content_type,
        "created": repr(file.created),
        "expires": repr(file.expires),
        "filename": quote(file.filename, safe=""),
    }


def from_metadata(file_id: str, size: int, meta: Mapping[str, str]) -> StoredFile | None:
    """The file ``to_metadata`` described, or ``None`` if the metadata is not ours or damaged."""
    try:
        return StoredFile(
            id=file_id,
            owner=meta["owner"],
            content_type=meta["content-type"],
            size=size,
            created=float(meta["created"]),
            expires=float(meta["expires"]),
            filename=unquote(meta.get("filename", "")),
        )
    except (KeyError, ValueError):
        return None
