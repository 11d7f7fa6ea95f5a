"""What the job runners of the task APIs (Kling, MiniMax, Runway, Luma) share: asking for a task
that the upstream may have lost, the answer that says so, and input files given as ``data:`` URIs.

A poll that raises is asked again until the job's deadline, so only what cannot change by asking
again ends a job here: the upstream's 404 for a task it accepted (it expired or was removed), which
is a ``Progress(ERROR)`` saying the job was lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.core.jobs import JobStatus, Progress
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.http import Upstream

__all__ = ["answer_object", "data_base64", "get_task", "is_data_uri", "lost", "required_text", "text_option"]


def lost(provider: str, task: str) -> Progress:
    """The answer for a task its upstream no longer knows."""
    return Progress(
        JobStatus.ERROR,
        message=f"The {provider} provider no longer knows task {task}: the job was lost there (expired or removed).",
    )


async def get_task(upstream: Upstream, url: str, headers: Mapping[str, str]) -> Any | None:
    """The JSON answer of ``GET url``; ``None`` when the upstream answers 404 (the task is gone).
    Every other failure raises, to be asked again later."""
    try:
        return await upstream.request_json("GET", url, headers=headers)
    except UpstreamError as exc:
        if exc.code == "upstream_not_found":
            return None
        raise


def required_text(value: Any, message: str) -> str:
    """``value`` when it is the non-empty string the upstream had to answer (an accepted task's id,
    a file's link); an ``UpstreamError`` saying ``message`` otherwise."""
    if not isinstance(value, str) or not value:
        raise UpstreamError(message)
    return value


def answer_object(answer: Any, provider: str, what: str) -> dict[str, Any]:
    """``answer`` when it is a JSON object; an ``UpstreamError`` otherwise (a malformed answer is
    the upstream's failure, asked again by the poller)."""
    if not isinstance(answer, dict):
        raise UpstreamError(f"The {provider} provider answered {what} with something that is not a JSON object.")
    return answer


def is_data_uri(value: Any) -> bool:
    return isinstance(value, str) and value[:5].lower() == "data:"


def data_base64(value: str, param: str) -> str:
    """The bare base64 of a ``data:...;base64,`` URI (the upstreams that take file bytes inline want
    no prefix); a URL is returned as it is."""
    if not is_data_uri(value):
        return value
    head, sep, payload = value.partition(",")
    if not sep or not head.lower().endswith(";base64") or not payload:
        raise InvalidRequest(f"{param} is a data: URI that is not base64.", param=param)
    return payload


def text_option(options: Mapping[str, Any], name: str) -> str | None:
    """Option ``name`` as a non-empty string, or ``None``."""
    value = options.get(name)
    return value if isinstance(value, str) and value else None
