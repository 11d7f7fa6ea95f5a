"""What the video job runners of OpenAI (Sora), Google (Veo), Alibaba (Wan) and ByteDance
(Seedance) share: the options they refuse, a poll that learns the upstream lost the job, and the
result file behind a link that only our key opens.

**Files behind our key.** OpenAI's ``/videos/{id}/content`` and the Gemini API's ``files/...
:download`` answer only with the deployment's key, which the gateway's SSRF-safe downloader never
sends (it fetches public URLs for anyone). ``keyed_file`` asks with the key through the adapter's
own ``Upstream``: a redirect to a signed link (what the Gemini API answers) is handed on as a
public URL for the downloader; a body is read here, at most ``MAX_VIDEO_BYTES``, into a ``Blob``.
The images flow holds its downloads whole in memory too; a streamed hand-over would need a
``GeneratedFile`` that carries a stream, which ``core/jobs.py`` does not have.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import aclosing
from typing import Any

from unigate.core.jobs import GeneratedFile, JobStatus, Progress
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.http import Upstream
from unigate.providers.openai_media.options import refuse_unmapped

__all__ = [
    "MAX_VIDEO_BYTES",
    "SERVICE_ROUTING",
    "check_options",
    "failed",
    "keyed_file",
    "object_at",
    "option_url",
    "option_urls",
    "seconds_of",
]

MAX_VIDEO_BYTES = 100 * 1024 * 1024
"""The gateway's default download limit (``UNIGATE_MEDIA_MAX_DOWNLOAD_BYTES``): a sane bound on a
generated clip read into memory here."""

SERVICE_ROUTING = frozenset({"provider"})
"""The service's own choice of backend (its Veo 3.1 and Seedance 2.0 schemas have it): the catalog
routes here, so the field has nothing left to decide and is accepted without effect."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def check_options(
    options: Mapping[str, Any],
    mapped: Collection[str],
    *,
    provider: str,
    model: str,
    inert: Mapping[str, Any] | None = None,
) -> None:
    """Refuse (400 naming it) every option neither ``mapped`` nor set to its ``inert`` value, the
    one that asks for what the upstream does anyway (``generate_audio: true`` on Veo 3)."""
    inert = inert or {}
    meant = {k: v for k, v in options.items() if not (k in inert and v == inert[k])}
    refuse_unmapped(meant, [*mapped, *SERVICE_ROUTING, *inert], provider=provider, model=model)
    for name, value in inert.items():
        if name in options and options[name] != value:
            raise InvalidRequest(
                f"{name} cannot be {options[name]!r} for {model} on its provider ({provider}).", param=name
            )


def object_at(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``data[name]`` when it is an object, else an empty one (an answer missing a part)."""
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def option_url(options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name)
    return value if isinstance(value, str) and value else None


def option_urls(options: Mapping[str, Any], name: str) -> list[str]:
    value = options.get(name)
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def seconds_of(value: Any) -> float | None:
    """A duration the upstream reports (``"8"``, ``5``, ``5.2``), or ``None``."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def failed(provider: str, upstream_id: str, detail: Any) -> Progress:
    text = str(detail or "").strip() or "no details given"
    return Progress(JobStatus.ERROR, message=f"The {provider} provider's job {upstream_id} failed: {text}")


async def keyed_file(
    upstream: Upstream, url: str, headers: Mapping[str, str], *, field: str, content_type: str = "video/mp4"
) -> GeneratedFile:
    """The file at ``url``, asked with our key (see the module docstring)."""
    name = upstream.config.name
    resp = await upstream.open("GET", url, headers=headers, stream=True)
    if resp.status in _REDIRECTS:
        location = resp.headers.get("location", "")
        resp.close()
        if not location.startswith("https://"):
            raise UpstreamError(f"The {name} provider redirected its video download to an unusable link.")
        return GeneratedFile(field=field, url=location, content_type=content_type)
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_VIDEO_BYTES:
        resp.close()
        raise UpstreamError(f"The {name} provider's video is larger than {MAX_VIDEO_BYTES} bytes.")
    data = bytearray()
    async with aclosing(upstream.body_chunks(resp)) as chunks:
        async for chunk in chunks:
            data += chunk
            if len(data) > MAX_VIDEO_BYTES:
                raise UpstreamError(f"The {name} provider's video is larger than {MAX_VIDEO_BYTES} bytes.")
    if not data:
        raise UpstreamError(f"The {name} provider's video download was empty.")
    answered = resp.headers.get("content-type", "").partition(";")[0].strip()
    kind = answered if answered.startswith("video/") else content_type
    return GeneratedFile(field=field, blob=Blob(bytes(data), kind), content_type=kind)
