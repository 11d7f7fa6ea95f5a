"""What a generation job's reservation prices: how long the video or song will be, and at which
price variant (``catalog/data/media_prices.toml``: a video per second at ``"<resolution>:<audio|
silent>"``, a song per second or per generation, a 3D mesh per generation).

``job_units(model, fields)`` reads them from the request's validated fields (the service's names)
and the model's request schema (``fields.py``). The length, first found:

1. the request's own: ``duration`` or ``seconds`` (``5``, ``"5"``, ``"5s"``), ``num_frames`` at
   ``frames_per_second`` (Wan's frame counts; 16 fps when the request cannot say), and for music
   ``music_length_ms``, ``duration``, ``seconds_total`` or ``seconds``;
2. the schema's documented default of that field. Not the largest length it allows: a request
   that leaves the field out is made at the default, the upstream bills that, and reserving the
   maximum would refuse callers whose balance covers what they will be charged;
3. the largest value of the field's enum (no default documented: the upstream picks, so the worst);
4. a length the model always makes (``FIXED_S``: MiniMax T2V-01's 6 s, Wan 2.1's 5 s);
5. for a model whose output is as long as its input (a lip-sync, an avatar speaking an audio, a
   video edit; ``follows_input``): ``input_duration_s`` when the caller measured the input, else
   ``INPUT_DEFAULT_S``;
6. ``DEFAULT_S`` of the model's type.

The sound of a video: ``generate_audio`` (or PixVerse's ``generate_audio_switch``), else that
field's schema default; a model with no such field makes sound only if it always does
(``ALWAYS_SOUND``: Veo 3, Sora 2, Wan 2.5). Its resolution: ``resolution`` (lower case), else a
``size`` or ``frame_size`` (``"1280x720"``, ``"1280:720"``) by its short side, else Kling's
``mode`` (``std`` 720p, ``pro`` 1080p), else the schema default or the largest of the enum, else
``*`` (any).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from unigate.catalog.fields import RequestSchema, request_schema
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec, UnitPrice
from unigate.errors import InvalidRequest, ModelNotFound

__all__ = ["ALWAYS_SOUND", "DEFAULT_S", "FIXED_S", "INPUT_DEFAULT_S", "JOB_TYPES", "JobUnits", "job_units"]

JOB_TYPES = ("video", "music", "3d")
"""The catalog types made by generation jobs."""

DEFAULT_S: Mapping[str, float] = {"video": 5.0, "music": 30.0}
"""A type's length when neither the request nor the schema says one: 5 s, the commonest default
among the video schemas; 30 s, Lyria 2's and Stable Audio's clip."""

INPUT_DEFAULT_S = 30.0
"""The input's length assumed for a model whose output follows its input, when the caller did not
measure it. A job settles on the length made but never above its reservation, so a caller that
can read the input's duration should pass it."""

FIXED_S: Mapping[str, float] = {
    "video-01": 6.0,  # MiniMax T2V-01 and I2V-01-live make 6-second videos
    "video-01-live2d": 6.0,
    "alibaba/wan2.1-t2v-plus": 5.0,  # Wan 2.1 / 2.2 text-to-video on Model Studio: 5 seconds
    "alibaba/wan2.1-t2v-turbo": 5.0,
    "alibaba/wan2.2-t2v-plus": 5.0,
}
"""Models whose schema has no length field but whose upstream makes one length."""

ALWAYS_SOUND = ("sora-2-*", "google/veo3*", "google/veo-3*", "alibaba/wan2.5-*")
"""Models (``fnmatch`` patterns) that make a video with sound when the request has no say."""

_FOLLOWS_INPUT = frozenset({"alibaba/wan2.2-vace-fun-14b-depth"})
"""Input-driven models the schema cannot tell (this one has no documented schema)."""

_INPUTS = ("video_url", "audio_url", "reference", "mesh_url")
"""A required field among these, and no length field: the output is as long as that input."""

_WAN_FPS = 16.0
_VIDEO_LENGTH = ("duration", "seconds")
_MUSIC_LENGTH = ("music_length_ms", "duration", "seconds_total", "seconds")
_FRAMES = ("num_frames", "frames_per_second")
_SOUND = ("generate_audio", "generate_audio_switch")
_SIZES = ("size", "frame_size")
_MODE_RESOLUTION = {"std": "720p", "pro": "1080p"}
_LADDER = (360, 480, 540, 580, 720, 768, 1080, 1440, 2160)
_SECONDS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*s?\s*")
_SIZE = re.compile(r"\s*(\d+)\s*[x:×]\s*(\d+)\s*")


@dataclass(frozen=True, slots=True)
class JobUnits:
    """What one job's reservation prices (see the module)."""

    duration_s: float | None
    """Seconds of video or music to make; ``None`` for a model priced per generation."""
    variant: str = ""
    """``"<resolution>:<audio|silent>"`` for a video (``UnitPrice.rate``), ``""`` otherwise."""
    follows_input: bool = False
    """The length is the input's: ``input_duration_s`` when given, else ``INPUT_DEFAULT_S``."""

    @property
    def units(self) -> float:
        """What ``UnitPrice.cost`` counts: the seconds, or one generation."""
        return 1.0 if self.duration_s is None else self.duration_s

    def cost(self, price: UnitPrice) -> int:
        """The credits these units cost at ``price``."""
        return price.cost(self.units, self.variant)


def job_units(model: ModelSpec | str, fields: Mapping[str, Any], *, input_duration_s: float | None = None) -> JobUnits:
    """The length and price variant a generation request of ``model`` (a spec, id or alias) is
    reserved at; ``fields`` are its validated fields under the service's names. ``InvalidRequest``
    for a length that is no number of seconds; ``ValueError`` for a model that makes no jobs."""
    spec = model if isinstance(model, ModelSpec) else _resolve(model)
    if spec.type not in JOB_TYPES:
        raise ValueError(f"{spec.id} is a {spec.type} model, not a generation job's ({', '.join(JOB_TYPES)})")
    schema = request_schema(spec)
    if _per_generation(spec):
        return JobUnits(None)
    if spec.type == "music":
        return JobUnits(_length(spec, fields, schema, _MUSIC_LENGTH) or DEFAULT_S["music"])
    duration = _length(spec, fields, schema, _VIDEO_LENGTH)
    follows = False
    if duration is None:
        duration = FIXED_S.get(spec.id)
    if duration is None and _follows_input(spec, fields, schema):
        follows = True
        duration = input_duration_s if input_duration_s is not None else INPUT_DEFAULT_S
    if duration is None:
        duration = DEFAULT_S.get(spec.type, DEFAULT_S["video"])
    variant = f"{_resolution(fields, schema)}:{'audio' if _sound(spec, fields, schema) else 'silent'}"
    return JobUnits(duration, variant, follows)


def _per_generation(spec: ModelSpec) -> bool:
    if spec.unit_price is not None:
        return spec.unit_price.unit == "generation"
    return spec.type not in ("video", "music")


# ---- length ----------------------------------------------------------------------------------


def _length(
    spec: ModelSpec, fields: Mapping[str, Any], schema: RequestSchema | None, names: tuple[str, ...]
) -> float | None:
    """Steps 1-3 of the module's order: the request, the schema's default, the enum's largest."""
    for name in names:
        if fields.get(name) is not None:
            return _seconds(name, fields[name])
    frames = _frames(fields, schema, given=True)
    if frames is not None:
        return frames
    if schema is None:
        return None
    for name in names:
        if schema.default(name) is not None:
            return _seconds(name, schema.default(name))
    frames = _frames(fields, schema, given=False)
    if frames is not None:
        return frames
    for name in names:
        values = [_seconds(name, v) for v in schema.enum(name) or ()]
        if values:
            return max(values)
    return None


def _frames(fields: Mapping[str, Any], schema: RequestSchema | None, *, given: bool) -> float | None:
    """``num_frames`` at ``frames_per_second``: the request's count (``given``), or the schema's."""
    if fields.get("match_input_num_frames"):
        return None  # as many frames as the input video: the input's length
    count = fields.get("num_frames") if given else (schema.default("num_frames") if schema else None)
    if count is None:
        return None
    fps = fields.get("frames_per_second") or (schema.default("frames_per_second") if schema else None) or _WAN_FPS
    return _seconds("num_frames", count) / _seconds("frames_per_second", fps)


def _seconds(name: str, value: Any) -> float:
    """A length field's value in seconds: a number, or a string of one (``"5"``, ``"5s"``)."""
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and (match := _SECONDS.fullmatch(value)):
        number = float(match[1])
    if number is None or not math.isfinite(number) or number <= 0:
        raise InvalidRequest(f"The field '{name}' must be a positive number of seconds; got {value!r}.", param=name)
    return number / 1000 if name.endswith("_ms") else number


def _follows_input(spec: ModelSpec, fields: Mapping[str, Any], schema: RequestSchema | None) -> bool:
    if spec.id in _FOLLOWS_INPUT or fields.get("match_input_num_frames"):
        return True
    return schema is not None and any(name in schema.required for name in _INPUTS)


# ---- variant ---------------------------------------------------------------------------------


def _sound(spec: ModelSpec, fields: Mapping[str, Any], schema: RequestSchema | None) -> bool:
    for name in _SOUND:
        if fields.get(name) is not None:
            return _flag(fields[name])
    for name in _SOUND:
        if schema is not None and name in schema.fields:
            return _flag(schema.default(name))
    return any(fnmatchcase(spec.id, pattern) for pattern in ALWAYS_SOUND)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _resolution(fields: Mapping[str, Any], schema: RequestSchema | None) -> str:
    given = _resolution_of(fields)
    if given:
        return given
    if schema is not None:
        defaults = {name: schema.default(name) for name in ("resolution", *_SIZES, "mode")}
        found = _resolution_of({k: v for k, v in defaults.items() if v is not None})
        if found:
            return found
        labels = [str(v).lower() for v in schema.enum("resolution") or ()]
        if labels:
            return max(labels, key=_height)
    return "*"


def _resolution_of(fields: Mapping[str, Any]) -> str:
    """The resolution a request names: ``resolution``, a size by its short side, Kling's mode."""
    if isinstance(fields.get("resolution"), str) and fields["resolution"].strip():
        return str(fields["resolution"]).strip().lower()
    for name in _SIZES:
        size = fields.get(name)
        if isinstance(size, Mapping) and {"width", "height"} <= set(size):
            size = f"{size['width']}x{size['height']}"
        if isinstance(size, str) and (match := _SIZE.fullmatch(size)):
            short = min(int(match[1]), int(match[2]))
            return f"{min(_LADDER, key=lambda rung: abs(rung - short))}p"
    mode = fields.get("mode")
    return _MODE_RESOLUTION.get(mode, "") if isinstance(mode, str) else ""


def _height(label: str) -> int:
    """A resolution label's height, to find an enum's largest (``4k`` is 2160)."""
    if label in ("4k", "uhd"):
        return 2160
    if label == "2k":
        return 1440
    digits = re.match(r"\d+", label)
    return int(digits[0]) if digits else 0


@cache
def _names() -> dict[str, ModelSpec]:
    return {name: spec for spec in load_catalog() for name in (spec.id, *spec.aliases)}


def _resolve(name: str) -> ModelSpec:
    spec = _names().get(name)
    if spec is None:
        raise ModelNotFound(f"The model {name!r} does not exist. GET /models lists the models.", param="model")
    return spec
