"""A ``GenerationRequest`` as the input of a fal app, and a fal answer as a job's ``Progress``.

The service documents its video, music and 3D models hosted on fal under fal's own field names,
so the options go through as they are, with the prompt; the few that differ are mapped here,
each with the fal model page that says so:

* ``fal-ai/hunyuan-video-foley`` reads the prompt as ``text_prompt`` (fal.ai/models/fal-ai/
  hunyuan-video-foley/llms.txt);
* ``fal-ai/hunyuan-part`` reads the mesh as ``model_file_url`` (the service: ``mesh_url``);
* ``fal-ai/kandinsky5/...`` takes ``duration`` as ``"5s"``/``"10s"`` (the service: 5 or 10);
* ``veed/fabric-1.0`` requires ``resolution``; the service's default (``480p``) is sent when none
  is given;
* LTX-2 is two apps, text to video and image to video: the route names the text one, and a
  request with an ``image_url`` goes to the image one (``IMAGE_APPS``).

fal answers ``{<field>: {url, content_type, file_name, file_size}, ...}``: every such file is one
``GeneratedFile`` under its field (``video``, ``model_mesh``, ``segmented_mesh``,
``mask_1_mesh``...), fal's ``audio`` as the service's ``audio_file``; every other value
(``seed``, ``timings``, ``iou_scores``...) is passed on in ``details``. A file whose ``url`` is a
``data:`` URI (``sync_mode``) is bytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, Progress
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UpstreamError

__all__ = ["FIELD_NAMES", "IMAGE_APPS", "SERVICE_ONLY", "job_app", "job_input", "job_progress"]

SERVICE_ONLY = frozenset({"model", "provider"})
"""Fields of the service's schemas that steer the service itself, never an upstream."""

IMAGE_APPS: dict[str, str] = {
    "fal-ai/ltx-2/text-to-video": "fal-ai/ltx-2/image-to-video",
    "fal-ai/ltx-2/text-to-video/fast": "fal-ai/ltx-2/image-to-video/fast",
}
"""Apps whose image-to-video twin takes a request that brings an ``image_url``."""

_RENAMED: dict[str, dict[str, str]] = {
    "fal-ai/hunyuan-video-foley": {"prompt": "text_prompt"},
    "fal-ai/hunyuan-part": {"mesh_url": "model_file_url"},
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "veed/fabric-1.0": {"resolution": "480p"},
    "veed/fabric-1.0/fast": {"resolution": "480p"},
}
_DROPPED: dict[str, frozenset[str]] = {
    # The service's only LTX-2 aspect ratio is 16:9, the apps' one output; they take no field for it.
    app: frozenset({"aspect_ratio"})
    for app in (*IMAGE_APPS, *IMAGE_APPS.values())
}
_SECONDS_AS_TEXT = ("fal-ai/kandinsky5/",)
"""Apps whose ``duration`` is a string of seconds with an ``s`` (``"5s"``)."""

FIELD_NAMES = {"audio": "audio_file"}
"""fal's answer fields that the service names otherwise."""


def job_app(request: GenerationRequest, app: str) -> str:
    """The app a request goes to: the route's, or its image-to-video twin."""
    if request.options.get("image_url") and app in IMAGE_APPS:
        return IMAGE_APPS[app]
    return app


def job_input(request: GenerationRequest, app: str) -> dict[str, Any]:
    """The JSON body submitted to ``app`` (the one ``job_app`` chose)."""
    body: dict[str, Any] = {}
    if request.prompt is not None:
        body["prompt"] = request.prompt
    dropped = _DROPPED.get(app, frozenset())
    body.update({k: v for k, v in request.options.items() if k not in SERVICE_ONLY and k not in dropped})
    for ours, theirs in _RENAMED.get(app, {}).items():
        if ours in body:
            body[theirs] = body.pop(ours)
    for name, value in _DEFAULTS.get(app, {}).items():
        body.setdefault(name, value)
    if app.startswith(_SECONDS_AS_TEXT) and "duration" in body:
        seconds = body["duration"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | str) or not str(seconds).isdigit():
            raise InvalidRequest(f"{app} takes a whole number of seconds.", param="duration")
        body["duration"] = f"{seconds}s"
    return body


def _blob(url: str, content_type: str) -> Blob:
    header, _, data = url.partition(",")
    declared = header.removeprefix("data:").split(";")[0]
    try:
        return Blob(base64.b64decode(data, validate=True), declared or content_type or "application/octet-stream")
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError("The fal provider answered a file that is not valid base64.") from exc


def _file(name: str, value: Any) -> GeneratedFile | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("url"), str) or not value["url"]:
        return None
    url: str = value["url"]
    content_type = str(value.get("content_type") or "")
    filename = str(value.get("file_name") or "")
    field = FIELD_NAMES.get(name, name)
    if url.startswith("data:"):
        return GeneratedFile(field, blob=_blob(url, content_type), content_type=content_type, filename=filename)
    if not url.startswith(("https://", "http://")):
        return None
    return GeneratedFile(field, url=url, content_type=content_type, filename=filename)


def job_progress(answer: Any, app: str) -> Progress:
    """A completed request's answer as the job's end: its files, or an error when it holds none."""
    if not isinstance(answer, Mapping):
        return Progress(JobStatus.ERROR, message=f"The fal provider's answer for {app} is not an object.")
    files: list[GeneratedFile] = []
    details: dict[str, Any] = {}
    for name, value in answer.items():
        found = _file(str(name), value)
        if found is not None:
            files.append(found)
        else:
            details[str(name)] = value
    if not files:
        return Progress(JobStatus.ERROR, message=f"The fal provider's answer for {app} holds no file.")
    return Progress(JobStatus.COMPLETED, files=tuple(files), details=details)
