"""AssemblyAI's error bodies: ``{"error": "<message>"}`` (the OpenAPI ``Error`` schema), and the
``error`` of a transcript that failed while it was processed."""

from __future__ import annotations

from unigate.errors import GatewayError, InvalidRequest, UpstreamError
from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import error_object

__all__ = ["failed_transcript", "parse_error"]

_ABOUT_THE_AUDIO = ("Audio ", "File does not appear")
"""How the transcript errors about the client's audio begin ("Audio duration is too short.",
"File does not appear to contain audio..."): those are the client's, the others the upstream's."""


def parse_error(body: bytes) -> UpstreamFailure:
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    message = data.get("error")
    return UpstreamFailure(str(message) if message else None)


def failed_transcript(provider: str, transcript_id: str, message: str) -> GatewayError:
    """The error of a transcript whose ``status`` is ``error``."""
    if message.startswith(_ABOUT_THE_AUDIO):
        return InvalidRequest(f"The {provider} provider could not transcribe this audio: {message}", param="file")
    return UpstreamError(f"The {provider} provider failed transcript {transcript_id}: {message or 'no details given'}")
