"""A video ``GenerationRequest`` as the body of a DashScope video-synthesis task
(``POST /api/v1/services/aigc/video-generation/video-synthesis``; Model Studio's Wan
text-to-video, image-to-video and reference-to-video API references, and the DashScope SDK's
``VideoSynthesis``, which names the same fields).

Four families, told by the upstream model id:

* **Text-to-video** (``wan2.1-t2v-*``, ``wan2.2-t2v-plus``, ``wan2.5-t2v-preview``,
  ``wan2.6-t2v``): ``input: {prompt, negative_prompt, audio_url}``, ``parameters: {size, ...}``
  with ``size`` as ``W*H`` from the service's ``resolution`` and ``aspect_ratio`` (``SIZES``).
* **Image-to-video** (``wan2.5-i2v-preview``, ``wan2.6-i2v``, ``wan2.6-i2v-flash``): the first
  frame as ``input.img_url`` (a public URL or a ``data:`` URI), ``parameters.resolution``
  (``720P``...); the video takes the image's aspect ratio, so ``aspect_ratio`` is refused.
* **Reference-to-video** (``wan2.6-r2v``): ``input.reference_video_urls`` from ``video_urls``.
* **HappyHorse 1.0** (``happyhorse-1.0``): one catalog model over four upstream ones, chosen by the
  inputs: ``-t2v`` (a prompt), ``-i2v`` (``image_url`` as ``media: [{type: first_frame}]``),
  ``-r2v`` (``reference_image_urls`` as ``reference_image`` media), ``-video-edit``
  (``video_url`` as ``video`` media, with reference images if given); ``parameters: {resolution,
  ratio, duration, audio_setting, watermark, seed}``.

Options: ``duration`` (Wan 2.5 and later, HappyHorse; from the priced length when not given; Wan
2.1 and 2.2 make five seconds and take none), ``negative_prompt``, ``seed``, ``enhance_prompt`` as
``prompt_extend``, ``generate_audio`` as ``audio`` (Wan 2.5, 2.6), ``audio_url``, ``shot_type``,
``watermark`` (always sent: the service's default is off, HappyHorse's own is on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.core.jobs import GenerationRequest
from unigate.errors import InvalidRequest
from unigate.providers.video_jobs import option_url, option_urls

__all__ = ["SIZES", "family", "mapped_options", "video_body"]

SIZES: Mapping[tuple[str, str], str] = {
    ("480P", "16:9"): "832*480",
    ("480P", "9:16"): "480*832",
    ("480P", "1:1"): "624*624",
    ("720P", "16:9"): "1280*720",
    ("720P", "9:16"): "720*1280",
    ("720P", "1:1"): "960*960",
    ("720P", "4:3"): "1088*832",
    ("720P", "3:4"): "832*1088",
    ("1080P", "16:9"): "1920*1080",
    ("1080P", "9:16"): "1080*1920",
    ("1080P", "1:1"): "1440*1440",
    ("1080P", "4:3"): "1632*1248",
    ("1080P", "3:4"): "1248*1632",
}
"""The ``size`` of each resolution and aspect ratio, as the text-to-video reference lists them."""

_COMMON = ("negative_prompt", "seed", "watermark", "enhance_prompt")
_SHOT = ("shot_type",)
_MAPPED = {
    "t2v": (*_COMMON, "resolution", "aspect_ratio", "duration", "audio_url", "generate_audio", "shot_type"),
    # aspect_ratio is refused with its reason (the image's ratio rules), not as an unknown field
    "i2v": (*_COMMON, "image_url", "aspect_ratio", "resolution", "duration", "audio_url", "generate_audio", *_SHOT),
    "r2v": (*_COMMON, "video_urls", "resolution", "aspect_ratio", "duration", "shot_type"),
    "happyhorse": (
        "image_url",
        "reference_image_urls",
        "video_url",
        "aspect_ratio",
        "resolution",
        "duration",
        "audio_setting",
        "seed",
        "watermark",
    ),
}


def family(model: str) -> str:
    if model.startswith("happyhorse"):
        return "happyhorse"
    if "-r2v" in model:
        return "r2v"
    return "i2v" if "-i2v" in model else "t2v"


def mapped_options(model: str) -> tuple[str, ...]:
    return _MAPPED[family(model)]


def _resolution(request: GenerationRequest) -> str:
    return str(request.options.get("resolution") or request.variant.partition(":")[0] or "720P").upper()


def _takes_duration(model: str) -> bool:
    return not model.startswith(("wan2.1", "wanx2.1", "wan2.2"))


def _parameters(request: GenerationRequest, model: str) -> dict[str, Any]:
    options = request.options
    parameters: dict[str, Any] = {"watermark": bool(options.get("watermark", False))}
    if _takes_duration(model):
        seconds = options.get("duration", request.duration_s)
        if seconds:
            parameters["duration"] = int(seconds)
    if "enhance_prompt" in options:
        parameters["prompt_extend"] = bool(options["enhance_prompt"])
    if "generate_audio" in options:
        parameters["audio"] = bool(options["generate_audio"])
    for name in ("seed", "shot_type"):
        if name in options:
            parameters[name] = options[name]
    return parameters


def _size(request: GenerationRequest, model: str) -> str:
    ratio = str(request.options.get("aspect_ratio") or "16:9")
    size = SIZES.get((_resolution(request), ratio))
    if size is None:
        raise InvalidRequest(f"{model} makes no {_resolution(request)} video at {ratio}.", param="aspect_ratio")
    return size


def _happyhorse(request: GenerationRequest) -> dict[str, Any]:
    options = request.options
    image, video = option_url(options, "image_url"), option_url(options, "video_url")
    references = option_urls(options, "reference_image_urls")
    if image is not None and (video is not None or references):
        raise InvalidRequest("image_url (a first frame) cannot be combined with other input media.", param="image_url")
    if video is not None:
        mode, media = "video-edit", [{"type": "video", "url": video}]
    elif image is not None:
        mode, media = "i2v", [{"type": "first_frame", "url": image}]
    else:
        mode, media = ("r2v" if references else "t2v"), []
    media += [{"type": "reference_image", "url": url} for url in references]
    if "aspect_ratio" in options and mode in ("i2v", "video-edit"):
        raise InvalidRequest(f"aspect_ratio follows the input for HappyHorse {mode}.", param="aspect_ratio")
    if "duration" in options and mode == "video-edit":
        raise InvalidRequest("duration follows the source video for HappyHorse video-edit.", param="duration")
    if "audio_setting" in options and mode != "video-edit":
        raise InvalidRequest("audio_setting is for HappyHorse video-edit (a video_url).", param="audio_setting")
    parameters: dict[str, Any] = {
        "resolution": _resolution(request),
        "watermark": bool(options.get("watermark", False)),
    }
    if mode in ("t2v", "r2v"):
        parameters["ratio"] = str(options.get("aspect_ratio") or "16:9")
    seconds = options.get("duration", request.duration_s)
    if seconds and mode != "video-edit":
        parameters["duration"] = int(seconds)
    for name in ("seed", "audio_setting"):
        if name in options:
            parameters[name] = options[name]
    prompt: dict[str, Any] = {"prompt": request.prompt or ""}
    if media:
        prompt["media"] = media
    return {"model": f"happyhorse-1.0-{mode}", "input": prompt, "parameters": parameters}


def video_body(request: GenerationRequest, model: str) -> dict[str, Any]:
    """The task's body (see the module docstring); raises ``InvalidRequest`` for what the model
    cannot make."""
    kind = family(model)
    if kind == "happyhorse":
        return _happyhorse(request)
    options = request.options
    text: dict[str, Any] = {"prompt": request.prompt or ""}
    for name in ("negative_prompt", "audio_url"):
        if options.get(name):
            text[name] = options[name]
    parameters = _parameters(request, model)
    if kind == "i2v":
        image = option_url(options, "image_url")
        if image is None:
            raise InvalidRequest(f"{model} needs an image_url.", param="image_url")
        if "aspect_ratio" in options:
            raise InvalidRequest(f"{model} follows the image's aspect ratio.", param="aspect_ratio")
        text["img_url"] = image
        parameters["resolution"] = _resolution(request)
    else:
        parameters["size"] = _size(request, model)
    if kind == "r2v":
        videos = option_urls(options, "video_urls")
        if not videos:
            raise InvalidRequest(f"{model} needs video_urls.", param="video_urls")
        text["reference_video_urls"] = videos
    return {"model": model, "input": text, "parameters": parameters}
