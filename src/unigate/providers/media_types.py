"""The media types a fetched file may have, and how one is told from its first bytes when the
server does not say (no ``Content-Type``, or a generic ``application/octet-stream``, which object
stores send for files uploaded without a type).

``fetch.py`` accepts images and PDF for chat's image parts; the media endpoints' downloader
(``download.py``) also accepts the audio an STT model reads and the video some return. Aliases
(``audio/x-wav``, ``audio/mp3``...) are reported under one name, so that what is stored and
passed on has one spelling per format.
"""

from __future__ import annotations

__all__ = [
    "AUDIO_TYPES",
    "DOWNLOAD_TYPES",
    "IMAGE_AND_PDF_TYPES",
    "SNIFF_BYTES",
    "VIDEO_TYPES",
    "media_type",
    "sniff",
]

IMAGE_AND_PDF_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "application/pdf"}
)
AUDIO_TYPES = frozenset({"audio/wav", "audio/mpeg", "audio/ogg", "audio/webm", "audio/mp4", "audio/aac", "audio/flac"})
VIDEO_TYPES = frozenset({"video/mp4", "video/webm"})
DOWNLOAD_TYPES = IMAGE_AND_PDF_TYPES | AUDIO_TYPES | VIDEO_TYPES

_ALIASES = {
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "audio/m4a": "audio/mp4",
    "audio/x-m4a": "audio/mp4",
    "audio/x-aac": "audio/aac",
    "audio/x-flac": "audio/flac",
    "audio/opus": "audio/ogg",
}
_UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_PREFIXES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)
_MP4_BRANDS = {
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
}
SNIFF_BYTES = 64
"""What ``sniff`` looks at: enough for a WebM header's document type."""


def sniff(head: bytes) -> str | None:
    """The type the first bytes of a file show, if they show one this module knows."""
    for magic, kind in _PREFIXES:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF":
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(head[8:12])
    if head[4:8] == b"ftyp":  # ISO base media: the brand tells audio, HEIF images and video apart
        return _MP4_BRANDS.get(head[8:12], "video/mp4")
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM, or Matroska, which is not accepted
        return "video/webm" if b"webm" in head[:SNIFF_BYTES] else "video/x-matroska"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame's sync
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"  # layer 0 is ADTS AAC
    return None


def media_type(header: str | None, head: bytes) -> str | None:
    """A fetched body's type: the declared one (under its usual name) unless it is missing or
    generic, then what its first bytes show."""
    declared = (header or "").split(";")[0].strip().lower()
    if declared not in _UNDECLARED:
        return _ALIASES.get(declared, declared)
    return sniff(head) or declared or None
