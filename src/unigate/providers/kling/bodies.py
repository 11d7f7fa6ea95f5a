"""The bodies of Kling's video endpoints, from a ``GenerationRequest`` under the service's field
names. Which endpoint, ``model_name`` and ``mode`` a catalog model is comes from its route's
upstream id, ``"<endpoint>:<model_name>:<mode>"`` (``"image2video:kling-v2-1:pro"``; an empty
part is not sent: Kling's master models have no mode, its avatar endpoint no model).

===========================  ==================================================================
the service's field          Kling's
===========================  ==================================================================
``image_url``                ``image`` (a URL, or bare base64 for a ``data:`` URI)
``tail_image_url``,          ``image_tail``
``last_image_url``
``duration`` (an integer)    ``duration``, a string
``camera_control`` (text     ``camera_control: {type}``; ``advanced_camera_control``
to video: a preset name)     ``{movement_type, movement_value}`` is ``{type: simple, config}``
``generate_audio``           ``sound: on|off``
``multi_prompt`` (v3)        ``multi_shot: true`` and ``multi_prompt: [{index, prompt, duration}]``,
                             the duration split in whole seconds, earlier shots longer
``shot_type: intelligent``   ``intelligence``
``image_list`` (multi-image) ``image_list: [{image}]``
``effect_scene``,            ``effect_scene`` and ``input: {model_name, mode, duration, image}``
``image_url``                (``images`` for the two-person effects, given a list)
``audio_url`` (avatar)       ``sound_file``
``keep_audio`` (motion)      ``keep_original_sound: yes|no``
===========================  ==================================================================

``prompt``, ``negative_prompt``, ``cfg_scale``, ``aspect_ratio``, ``static_mask``,
``dynamic_masks``, ``character_orientation`` and ``mode`` keep their names. Kling refers to
elements (``elements``) by the ids of its element library only, so those are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.core.jobs import GenerationRequest
from unigate.errors import InvalidRequest
from unigate.providers.task_jobs import data_base64, is_data_uri

__all__ = ["Route", "body", "route_of"]

PASSED = ("negative_prompt", "cfg_scale", "aspect_ratio", "static_mask", "dynamic_masks")
ENDPOINTS = frozenset(
    {"text2video", "image2video", "multi-image2video", "effects", "avatar/image2video", "motion-control"}
)


class Route:
    """A catalog model's endpoint, ``model_name`` and ``mode`` at Kling."""

    def __init__(self, upstream: str) -> None:
        endpoint, model_name, mode = ([*upstream.split(":"), "", ""])[:3]
        if endpoint not in ENDPOINTS:
            raise InvalidRequest(f"Kling has no video endpoint {endpoint!r} (route {upstream!r}).", param="model")
        self.endpoint, self.model_name, self.mode = endpoint, model_name, mode


def route_of(upstream: str) -> Route:
    return Route(upstream)


def _image(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{param} must be an image URL.", param=param)
    return data_base64(value, param)


def _url_only(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value or is_data_uri(value):
        raise InvalidRequest(f"Kling fetches {param} itself: give a public URL.", param=param)
    return value


def _model(route: Route, options: Mapping[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = {}
    if route.model_name:
        head["model_name"] = route.model_name
    mode = options.get("mode") or route.mode
    if mode:
        head["mode"] = mode
    return head


def _duration(request: GenerationRequest) -> str | None:
    value = request.options.get("duration")
    return None if value is None else str(int(value))


def _camera(options: Mapping[str, Any]) -> dict[str, Any] | None:
    camera, advanced = options.get("camera_control"), options.get("advanced_camera_control")
    if camera is not None and advanced is not None:
        raise InvalidRequest("Give camera_control or advanced_camera_control, not both.", param="camera_control")
    if isinstance(camera, str):
        return {"type": camera}
    if isinstance(camera, Mapping):
        return dict(camera)
    if isinstance(advanced, Mapping):
        return {"type": "simple", "config": {str(advanced["movement_type"]): advanced["movement_value"]}}
    return None


def _shots(prompts: list[Any], seconds: int, shot_type: str | None) -> dict[str, Any]:
    if not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise InvalidRequest("multi_prompt must list the prompt of each shot.", param="multi_prompt")
    if len(prompts) > seconds:
        raise InvalidRequest(f"{len(prompts)} shots do not fit in {seconds} seconds.", param="multi_prompt")
    base, extra = divmod(seconds, len(prompts))
    shots = [
        {"index": i + 1, "prompt": p, "duration": str(base + (1 if i < extra else 0))} for i, p in enumerate(prompts)
    ]
    kind = "intelligence" if shot_type == "intelligent" else (shot_type or "customize")
    return {"multi_shot": True, "shot_type": kind, "multi_prompt": shots}


def _generation(request: GenerationRequest, route: Route) -> dict[str, Any]:
    """text2video and image2video."""
    options = request.options
    out: dict[str, Any] = _model(route, options)
    if options.get("elements"):
        raise InvalidRequest(
            "Kling's API takes elements only by the ids of its element library, not as images.", param="elements"
        )
    prompts = options.get("multi_prompt")
    if prompts:
        out.update(_shots(list(prompts), int(options.get("duration") or 5), options.get("shot_type")))
    elif request.prompt:
        out["prompt"] = request.prompt
    if route.endpoint == "image2video":
        out["image"] = _image(options.get("image_url"), "image_url")
        tail = options.get("tail_image_url") or options.get("last_image_url")
        if tail:
            param = "tail_image_url" if options.get("tail_image_url") else "last_image_url"
            if options.get("static_mask") or options.get("dynamic_masks") or options.get("camera_control"):
                raise InvalidRequest(
                    "Kling takes an end frame, the motion brush (masks) or camera_control, one at a time.", param=param
                )
            out["image_tail"] = _image(tail, param)
    out.update({k: options[k] for k in PASSED if options.get(k) is not None})
    if out.get("static_mask"):
        out["static_mask"] = _image(out["static_mask"], "static_mask")
    camera = _camera(options)
    if camera is not None:
        out["camera_control"] = camera
    if options.get("generate_audio") is not None:
        out["sound"] = "on" if options["generate_audio"] else "off"
    duration = _duration(request)
    if duration is not None:
        out["duration"] = duration
    return out


def _multi_image(request: GenerationRequest, route: Route) -> dict[str, Any]:
    options = request.options
    images = options.get("image_list") or []
    out = _model(route, options)
    out["image_list"] = [{"image": _image(u, "image_list")} for u in images]
    if request.prompt:
        out["prompt"] = request.prompt
    out.update({k: options[k] for k in ("negative_prompt", "aspect_ratio") if options.get(k) is not None})
    duration = _duration(request)
    if duration is not None:
        out["duration"] = duration
    return out


def _effects(request: GenerationRequest, route: Route) -> dict[str, Any]:
    options = request.options
    given = options.get("image_url")
    scene: dict[str, Any] = _model(route, options)
    if isinstance(given, list):
        scene["images"] = [_image(u, "image_url") for u in given]
    else:
        scene["image"] = _image(given, "image_url")
    scene["duration"] = _duration(request) or "5"
    return {"effect_scene": options.get("effect_scene"), "input": scene}


def _avatar(request: GenerationRequest, route: Route) -> dict[str, Any]:
    options = request.options
    out: dict[str, Any] = {
        "image": _image(options.get("image_url"), "image_url"),
        "sound_file": _url_only(options.get("audio_url"), "audio_url"),
    }
    if request.prompt:
        out["prompt"] = request.prompt
    return {**out, **_model(route, options)}


def _motion(request: GenerationRequest, route: Route) -> dict[str, Any]:
    options = request.options
    out: dict[str, Any] = _model(route, options)
    out["image_url"] = _image(options.get("image_url"), "image_url")
    out["video_url"] = _url_only(options.get("video_url"), "video_url")
    out["character_orientation"] = options.get("character_orientation") or "video"
    if options.get("keep_audio") is not None:
        out["keep_original_sound"] = "yes" if options["keep_audio"] else "no"
    if request.prompt:
        out["prompt"] = request.prompt
    return out


def body(request: GenerationRequest, route: Route, *, reference: str | None = None) -> dict[str, Any]:
    """The JSON body of ``POST /v1/videos/{route.endpoint}``; ``reference`` is sent as
    ``external_task_id`` (Kling refuses a second task with one it has seen)."""
    if route.endpoint in ("text2video", "image2video"):
        out = _generation(request, route)
    elif route.endpoint == "multi-image2video":
        out = _multi_image(request, route)
    elif route.endpoint == "effects":
        out = _effects(request, route)
    elif route.endpoint == "avatar/image2video":
        out = _avatar(request, route)
    else:
        out = _motion(request, route)
    if reference is not None:
        out["external_task_id"] = reference
    return out
