"""``PixVerseJobs``: PixVerse's platform API (https://app-api.pixverse.ai, ``API-KEY`` header)
behind the ``JobRunner`` protocol, for the service's ``pixverse/*`` models; ``wire.py`` holds the
envelope and the bodies.

``submit`` first uploads the request's input files, as PixVerse takes ids, not URLs: an image to
``POST /openapi/v2/image/upload`` (multipart ``image``: an ``img_id``), a video or an audio file
to ``POST /openapi/v2/media/upload`` (multipart ``file``: a ``media_id``). A client's URL is
fetched through the SSRF-safe ``Fetcher`` (a ``data:`` URI is decoded), so PixVerse never sees
it. Then one ``POST /openapi/v2/video/{text,img,transition,lip_sync}/generate`` answers the
``video_id``. Each exchange carries an ``Ai-trace-id``, which PixVerse requires unique per request
and by which it recognises a repeated one: the generation's is the gateway's reference (a
retried submission cannot start a second video), an upload's the reference and the field, a
poll's a fresh id.

``poll`` is one ``GET /openapi/v2/video/result/{video_id}``: status 5 generating, 1 done (the
video's ``url``), 7 refused by moderation, 8 failed. A result PixVerse no longer has (an HTTP
404, or a 4000xx code refusing the id) ends the job in error; other failures are asked again.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import uuid
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobStatus, JobTiming, Progress, Submitted
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.fetch import Fetcher, FetchError, FetchPolicy
from unigate.providers.http import Upstream
from unigate.providers.media_types import DOWNLOAD_TYPES
from unigate.providers.multipart import encode_multipart
from unigate.providers.pixverse.wire import envelope, generation_body, lip_sync_source, mode_of, parse_error
from unigate.providers.transport import Transport
from unigate.providers.transport.proxy import Proxies
from unigate.providers.upstream_adapter import UpstreamAdapter

__all__ = ["INPUTS", "PixVerseJobs"]

INPUTS = {
    "img": ("image_url",),
    "transition": ("image_url", "tail_image_url"),
    "lip_sync": ("video_url", "audio_url"),
    "text": (),
}
"""The request's input files of each mode."""

MAX_INPUT_BYTES = 50 * 1024 * 1024
"""PixVerse's largest upload (a lip sync's video or audio, 50 MB)."""

_ENDED = {1: JobStatus.COMPLETED, 5: JobStatus.GENERATING, 7: JobStatus.ERROR, 8: JobStatus.ERROR}
_FAILURES = {7: "PixVerse's moderation refused the video.", 8: "PixVerse failed to generate the video."}


def _decoded(uri: str, field: str) -> Blob:
    header, _, data = uri.partition(",")
    media_type = header.removeprefix("data:").split(";")[0] or "application/octet-stream"
    try:
        return Blob(base64.b64decode(data, validate=True), media_type)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{field} is not a valid base64 data: URI.", param=field) from exc


def _named(blob: Blob, stem: str) -> Blob:
    # PixVerse reads an upload's type from its name's extension.
    extension = mimetypes.guess_extension(blob.content_type) or ""
    return Blob(blob.data, blob.content_type, f"{stem}{extension}")


class PixVerseJobs(UpstreamAdapter):
    """PixVerse's video generation (see the module)."""

    timing = JobTiming(first_s=10.0, factor=1.5, max_interval_s=30.0, deadline_s=3600.0)
    inline = False

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: Transport,
        fetcher: Fetcher | None = None,
        fetch_proxies: Proxies | None = None,
    ) -> None:
        super().__init__(Upstream(config, parse_error=parse_error, transport=transport))
        policy = FetchPolicy(max_bytes=MAX_INPUT_BYTES, timeout_s=60.0, media_types=DOWNLOAD_TYPES)
        self.fetcher = fetcher or Fetcher(policy, proxies=fetch_proxies)

    async def start(self) -> None:
        await super().start()
        await self.fetcher.start()

    async def close(self) -> None:
        await self.fetcher.close()
        await super().close()

    def _headers(self, trace: str) -> dict[str, str]:
        return {"API-KEY": self.config.api_key or "", "Ai-trace-id": trace}

    def check_job(self, request: GenerationRequest, model: ModelSpec) -> None:
        mode = mode_of(model.upstream_model)
        for field in INPUTS[mode[0]]:
            url = request.options.get(field)
            if isinstance(url, str) and not url.startswith("data:"):
                try:
                    self.fetcher.vet(url)  # a refused address fails before any credit is reserved
                except FetchError as exc:
                    raise InvalidRequest(f"{field}: {exc}", param=field, code="invalid_url") from exc
        if mode[0] == "lip_sync":
            lip_sync_source(request)
        else:
            generation_body(request, mode)

    async def _input(self, request: GenerationRequest, field: str) -> Blob:
        url = request.options.get(field)
        if not isinstance(url, str) or not url:
            raise InvalidRequest(f"{request.model} needs {field}.", param=field)
        if url.startswith("data:"):
            return _named(_decoded(url, field), field)
        try:
            fetched = await self.fetcher.fetch(url)
        except FetchError as exc:
            raise InvalidRequest(f"{field} could not be used: {exc}", param=field) from exc
        return _named(Blob(fetched.data, fetched.media_type), field)

    async def _upload(self, request: GenerationRequest, field: str, reference: str) -> int:
        blob = await self._input(request, field)
        image = field.endswith("image_url")
        path, part, key = ("image/upload", "image", "img_id") if image else ("media/upload", "file", "media_id")
        body, content_type = encode_multipart({}, [(part, blob)])
        headers = {**self._headers(f"{reference}-{field}"), "Content-Type": content_type}
        data = await self.upstream.request_json("POST", self.url(f"openapi/v2/{path}"), headers=headers, body=body)
        found = envelope(data, f"the upload of {field}").get(key)
        if isinstance(found, bool) or not isinstance(found, int):
            raise UpstreamError(f"The pixverse provider took {field} without giving its {key}.")
        return found

    async def _speaker(self, name: Any) -> str:
        """PixVerse's id of a voice the service names; ``auto`` for none or ``Auto``."""
        if not name or str(name).lower() == "auto":
            return "auto"
        url = self.url("openapi/v2/video/lip_sync/tts_list?page_num=1&page_size=100")
        data = await self.upstream.request_json("GET", url, headers=self._headers(str(uuid.uuid4())))
        listed = envelope(data, "the voice list").get("data")
        for voice in listed if isinstance(listed, list) else ():
            if isinstance(voice, dict) and str(voice.get("name", "")).lower() == str(name).lower():
                return str(voice.get("speaker_id"))
        raise InvalidRequest(f"PixVerse has no voice named {name!r}.", param="lip_sync_tts_speaker")

    async def submit(self, request: GenerationRequest, model: ModelSpec, *, reference: str) -> Submitted:
        mode = mode_of(model.upstream_model)
        options = request.options
        if mode[0] == "lip_sync":
            body: dict[str, Any] = {"video_media_id": await self._upload(request, "video_url", reference)}
            if lip_sync_source(request) == "audio":
                body["audio_media_id"] = await self._upload(request, "audio_url", reference)
            else:
                body["lip_sync_tts_speaker_id"] = await self._speaker(options.get("lip_sync_tts_speaker"))
                body["lip_sync_tts_content"] = options["lip_sync_tts_content"]
        else:
            body = generation_body(request, mode)
            if mode[0] == "img":
                body["img_id"] = await self._upload(request, "image_url", reference)
            elif mode[0] == "transition":
                body["first_frame_img"] = await self._upload(request, "image_url", reference)
                body["last_frame_img"] = await self._upload(request, "tail_image_url", reference)
            if body.get("lip_sync_switch"):
                body["lip_sync_tts_speaker_id"] = await self._speaker(options.get("lip_sync_tts_speaker"))
        url = self.url(f"openapi/v2/video/{mode[0]}/generate")
        data = await self.upstream.post_json(url, headers=self._headers(reference), body=body)
        video_id = envelope(data, "the generation").get("video_id")
        if video_id is None or isinstance(video_id, bool) or not str(video_id):
            raise UpstreamError("The pixverse provider accepted a generation without its video_id.")
        return Submitted(str(video_id))

    async def poll(self, job: Submitted, model: ModelSpec) -> Progress:
        lost = f"The pixverse provider no longer knows video {job.upstream_id}"
        url = self.url(f"openapi/v2/video/result/{job.upstream_id}")
        try:
            data = await self.upstream.request_json("GET", url, headers=self._headers(str(uuid.uuid4())))
            resp = envelope(data, f"the result of video {job.upstream_id}")
        except InvalidRequest as exc:
            return Progress(JobStatus.ERROR, message=f"{lost}: {exc.message}")
        except UpstreamError as exc:
            if exc.code == "upstream_not_found":
                return Progress(JobStatus.ERROR, message=f"{lost}.")
            raise
        status = resp.get("status")
        if status not in _ENDED:
            raise UpstreamError(f"The pixverse provider reported video {job.upstream_id} as status {status!r}.")
        if status in _FAILURES:
            return Progress(JobStatus.ERROR, message=_FAILURES[status])
        if _ENDED[status] is JobStatus.GENERATING:
            return Progress(JobStatus.GENERATING)
        link = resp.get("url")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            return Progress(JobStatus.ERROR, message=f"The pixverse provider's video {job.upstream_id} has no link.")
        details = {k: resp[k] for k in ("seed", "outputWidth", "outputHeight") if resp.get(k) is not None}
        return Progress(
            JobStatus.COMPLETED, files=(GeneratedFile("video", url=link, content_type="video/mp4"),), details=details
        )
