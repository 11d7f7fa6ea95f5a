"""DashScope's error bodies: ``{"request_id", "code", "message"}`` (the native API), and the
``code``/``message`` a failed task carries in its ``output``."""

from __future__ import annotations

from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.http import UpstreamFailure
from unigate.providers.wire import error_object

__all__ = ["MODERATION_CODES", "parse_error", "task_failure"]

AUTH_CODES = frozenset({"InvalidApiKey", "AccessDenied", "AccessDenied.Unpurchased", "Arrearage"})
MODERATION_CODES = frozenset({"DataInspectionFailed", "IPInfringementSuspect", "data_inspection_failed"})


def _status(code: str) -> int | None:
    if code in AUTH_CODES:
        return 401
    if code.startswith("Throttling"):
        return 429
    return None


def parse_error(body: bytes) -> UpstreamFailure:
    """The failure an error body describes; its ``code`` says a wrong key (401) or throttling
    (429) whatever the status it came with."""
    data = error_object(body)
    if isinstance(data, UpstreamFailure):
        return data
    code = str(data.get("code") or "")
    message = data.get("message")
    text = f"{message} ({code})" if message and code else (message or code or None)
    return UpstreamFailure(str(text) if text else None, status=_status(code))


def task_failure(code: object, message: object, *, task: str) -> InvalidRequest | UpstreamError:
    """Our error for a task that ended ``FAILED``: a refused prompt or image is the client's
    (400), anything else the upstream's (502); both carry DashScope's message."""
    code, message = str(code or ""), str(message or "no details given")
    if code in MODERATION_CODES:
        return InvalidRequest(
            f"The alibaba provider's moderation refused task {task}: {message} ({code})", code="content_moderated"
        )
    if code.startswith("InvalidParameter"):
        return InvalidRequest(f"The alibaba provider refused task {task}: {message} ({code})")
    return UpstreamError(f"The alibaba provider's task {task} failed: {message} ({code or 'no code'})")
