"""What a generation job is reserved at (``catalog/job_units.py``): its length and price variant
from the request's fields and the model's documented schema, over the shipped catalog; and a walk
over every video, music and 3D model pricing its smallest valid request."""

from __future__ import annotations

import math
import re
from importlib.resources import files
from typing import Any

import orjson
import pytest

from unigate.catalog import job_units as job_units_module
from unigate.catalog.fields import RequestSchema, request_schema
from unigate.catalog.job_units import INPUT_DEFAULT_S, JobUnits, job_units
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import CREDITS_PER_USD, ModelSpec
from unigate.errors import InvalidRequest, ModelNotFound

SPECS = {spec.id: spec for spec in load_catalog()}


def _usd(model_id: str, fields: dict[str, Any], **kwargs: Any) -> float:
    spec = SPECS[model_id]
    assert spec.unit_price is not None
    return job_units(spec, fields, **kwargs).cost(spec.unit_price) / CREDITS_PER_USD


# ---- length ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "duration"),
    [
        ("google/veo-3.1-t2v", {"duration": 4}, 4.0),  # the request's
        ("google/veo-3.1-t2v", {"duration": "6"}, 6.0),  # as the service's forms send it
        ("google/veo3", {"duration": "6s"}, 6.0),
        ("sora-2-t2v", {"seconds": "12"}, 12.0),  # OpenAI's name
        ("google/veo-3.1-t2v", {}, 8.0),  # the schema's default ("8"), not its largest
        ("sora-2-pro-t2v", {}, 4.0),  # default 4 of 4/8/12: what Sora makes when not told
        ("alibaba/wan2.5-t2v-preview", {}, 10.0),
        ("bytedance/seedance-1-0-pro-t2v", {}, 10.0),  # no default documented: the largest of 5/10
        ("minimax/hailuo-02", {}, 10.0),  # 6/10
        ("google/veo-3.1-reference-to-video", {}, 8.0),  # enum [8]
        ("video-01", {}, 6.0),  # no length field: T2V-01 makes 6 s
        ("alibaba/wan2.1-t2v-turbo", {}, 5.0),
        ("magic/text-to-video", {}, 5.0),  # nothing known: the video default
        ("krea/krea-wan-14b/text-to-video", {}, 78 / 16),  # 78 frames by default, at Wan's 16 fps
        ("krea/krea-wan-14b/text-to-video", {"num_frames": 162}, 162 / 16),
        ("alibaba/wan2.2-vace-fun-a14b-pose", {"num_frames": 81, "frames_per_second": 27}, 3.0),
        ("alibaba/wan2.2-vace-fun-a14b-pose", {"frames_per_second": 27}, 81 / 27),  # the default count
        ("elevenlabs/eleven_music", {}, 10.0),  # music_length_ms defaults to 10,000
        ("elevenlabs/eleven_music", {"music_length_ms": 95_000}, 95.0),
        ("stable-audio", {}, 30.0),  # seconds_total defaults to 30
        ("stable-audio", {"seconds_total": 47, "seconds_start": 5}, 47.0),
    ],
)
def test_the_length_is_the_requests_else_the_schemas_default_else_the_largest_it_allows(
    model: str, fields: dict[str, Any], duration: float
) -> None:
    units = job_units(model, fields)
    assert units.duration_s == pytest.approx(duration)
    assert units.units == pytest.approx(duration)
    assert not units.follows_input


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("bytedance/omnihuman", {"image_url": "https://a.example/p.png", "audio_url": "https://a.example/v.mp3"}),
        ("klingai/avatar-pro", {}),
        ("veed/fabric-1.0", {}),
        ("pixverse/lip-sync", {}),
        ("tencent/hunyuan-video-foley", {}),
        ("klingai/video-o1-video-to-video-edit", {}),
        ("klingai/video-v2-6-pro-motion-control", {}),
        ("runway/act_two", {}),
        ("alibaba/wan2.2-14b-animate-move", {}),
        ("alibaba/wan2.2-vace-fun-a14b-pose", {"match_input_num_frames": True}),  # frames as the input's
        ("alibaba/wan2.2-vace-fun-14b-depth", {}),  # no schema documented: known to follow its input
    ],
)
def test_an_output_as_long_as_its_input_is_reserved_at_the_measured_length(model: str, fields: dict[str, Any]) -> None:
    assumed = job_units(model, fields)
    assert (assumed.follows_input, assumed.duration_s) == (True, INPUT_DEFAULT_S)
    measured = job_units(model, fields, input_duration_s=12.5)
    assert (measured.follows_input, measured.duration_s) == (True, 12.5)


def test_a_measured_input_does_not_override_a_length_the_request_sets() -> None:
    units = job_units("klingai/video-o1-video-to-video-reference", {"duration": 10}, input_duration_s=3)
    assert (units.duration_s, units.follows_input) == (10.0, False)


@pytest.mark.parametrize("value", ["five", "", 0, -4, float("nan"), float("inf"), True, [5]])
def test_a_length_that_is_no_number_of_seconds_is_a_400_naming_it(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="'duration' must be a positive number of seconds") as caught:
        job_units("google/veo-3.1-t2v", {"duration": value})
    assert caught.value.param == "duration"


# ---- variant ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "variant"),
    [
        ("google/veo-3.1-t2v", {}, "1080p:audio"),  # the defaults: 1080p, generate_audio true
        ("google/veo3", {"resolution": "1080P", "generate_audio": False}, "1080p:silent"),  # lower case
        ("google/veo3", {"generate_audio": "false"}, "720p:silent"),  # a form's string
        ("sora-2-t2v", {}, "720p:audio"),  # no sound field: Sora 2 always makes sound
        ("sora-2-pro-t2v", {"size": "1792x1024"}, "1080p:audio"),  # OpenAI's HD size, by its short side
        ("sora-2-pro-t2v", {"size": {"width": 1280, "height": 720}}, "720p:audio"),
        ("alibaba/wan2.5-t2v-preview", {"resolution": "480p"}, "480p:audio"),
        ("bytedance/seedance-1-5-pro", {"generate_audio": False, "resolution": "480p"}, "480p:silent"),
        ("pixverse/v5-5-text-to-video", {}, "720p:silent"),  # generate_audio_switch defaults to false
        ("pixverse/v5-5-text-to-video", {"generate_audio_switch": True}, "720p:audio"),
        ("runway/act_two", {"frame_size": "1104:832"}, "768p:silent"),  # the nearest rung
        ("runway/act_two", {}, "720p:silent"),  # frame_size defaults to 1280:720
        ("klingai/video-v2-6-pro-motion-control", {}, "720p:silent"),  # mode std
        ("klingai/video-v2-6-pro-motion-control", {"mode": "pro"}, "1080p:silent"),
        ("kling-video/v2.1/pro/image-to-video", {}, "*:silent"),  # Kling has no resolution field
        ("klingai/video-v2-6-pro-text-to-video", {}, "*:audio"),
        ("luma/ray-2", {"resolution": "4k"}, "4k:silent"),
    ],
)
def test_the_variant_is_the_resolution_and_the_sound(model: str, fields: dict[str, Any], variant: str) -> None:
    assert job_units(model, fields).variant == variant


def test_without_a_default_the_largest_resolution_the_schema_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = {"resolution": {"type": "string", "enum": ["480p", "4k", "1080p", "2K"]}, "duration": {"type": "integer"}}
    schema = RequestSchema("luma/ray-2", {"fields": fields})
    monkeypatch.setattr(job_units_module, "request_schema", lambda spec: schema)
    assert job_units("luma/ray-2", {}).variant == "4k:silent"


# ---- what it costs ---------------------------------------------------------------------------


def test_the_reservation_prices_the_units_at_the_variants_rate() -> None:
    assert _usd("google/veo-3.1-t2v", {}) == pytest.approx(3.20, abs=1e-6)  # 8 s at $0.40
    assert _usd("google/veo-3.1-t2v-fast", {"resolution": "720p"}) == pytest.approx(0.80, abs=1e-6)  # 8 s at $0.10
    assert _usd("sora-2-pro-t2v", {"duration": 12, "resolution": "720p"}) == pytest.approx(3.60, abs=1e-6)
    assert _usd("bytedance/seedance-1-5-pro", {"generate_audio": False, "resolution": "480p", "duration": 4}) == (
        pytest.approx(4 * 0.011664, abs=1e-6)
    )
    assert _usd("klingai/video-v2-6-pro-text-to-video", {"generate_audio": False}) == pytest.approx(0.35, abs=1e-6)
    assert _usd("elevenlabs/eleven_music", {"music_length_ms": 90_000}) == pytest.approx(1.20, abs=1e-6)
    assert _usd("klingai/avatar-pro", {}, input_duration_s=10) == pytest.approx(1.15, abs=1e-6)


@pytest.mark.parametrize("model", ["minimax/music-2.0", "google/lyria2", "music-01", "triposr", "tencent/hunyuan-part"])
def test_a_song_or_a_mesh_priced_per_generation_has_no_length(model: str) -> None:
    units = job_units(model, {"duration": 120, "resolution": "4k"})
    assert units == JobUnits(None)
    assert units.units == 1
    price = SPECS[model].unit_price
    assert price is not None
    assert units.cost(price) == price.per_million // 1_000_000


def test_a_model_is_named_by_spec_or_id_and_must_make_jobs() -> None:
    assert job_units(SPECS["google/veo3"], {}) == job_units("google/veo3", {})
    with pytest.raises(ModelNotFound):
        job_units("no/such-video", {})
    with pytest.raises(ValueError, match="dall-e-3 is a image model"):
        job_units("dall-e-3", {})


# ---- the walk --------------------------------------------------------------------------------

_RAW: dict[str, Any] = orjson.loads(files("unigate.catalog").joinpath("data", "media_requests.json").read_bytes())
_JOB_MODELS = [s for s in load_catalog() if s.type in ("video", "music", "3d") and not s.deprecated]
_VARIANT = re.compile(r"(?:[0-9]+p|[0-9]k|\*):(?:audio|silent)")


def _minimal(node: dict[str, Any], name: str) -> Any:
    """The smallest value a schema node takes: an enum's first, a minimum, a URL for a URL."""
    if "anyOf" in node:
        return _minimal(node["anyOf"][0], name)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        fields = node.get("fields", {})
        return {k: _minimal(sub, k) for k, sub in fields.items() if sub.get("required")}
    if kind == "array":
        return [_minimal(node.get("items", {"type": "string"}), name) for _ in range(node.get("minItems", 1))]
    if kind in ("integer", "number"):
        return node.get("minimum", 1)
    if kind == "boolean":
        return False
    text = "https://media.example/input.bin" if "url" in name else "a lighthouse in a storm"
    return text.ljust(node.get("minLength", 0), ".")


def _minimal_request(spec: ModelSpec) -> dict[str, Any]:
    index = _RAW["models"].get(spec.id)
    if index is None:
        return {"prompt": "a lighthouse in a storm"}
    fields = _RAW["schemas"][index]["fields"]
    return {name: _minimal(sub, name) for name, sub in fields.items() if sub.get("required")}


def test_the_walk_covers_every_job_model() -> None:
    kinds = [spec.type for spec in _JOB_MODELS]
    assert (kinds.count("video"), kinds.count("music"), kinds.count("3d")) == (108, 9, 2)


@pytest.mark.parametrize("spec", _JOB_MODELS, ids=lambda spec: spec.id)
def test_every_job_model_prices_its_smallest_valid_request(spec: ModelSpec) -> None:
    price = spec.unit_price
    assert price is not None, "no unit_price"
    body = _minimal_request(spec)
    schema = request_schema(spec)
    if schema is not None:
        body = schema.validate(body)  # the request the service would accept
    units = job_units(spec, body)
    credits = units.cost(price)
    assert math.isfinite(credits)
    assert 0 < credits < 50 * CREDITS_PER_USD, credits  # under $50
    if price.unit == "generation":
        assert (units.duration_s, units.variant) == (None, "")
        return
    assert units.duration_s is not None
    assert 0 < units.duration_s <= 60
    if spec.type == "video":
        assert _VARIANT.fullmatch(units.variant), units.variant
        resolution = units.variant.partition(":")[0]
        offered = [str(v).lower() for v in (schema.enum("resolution") if schema else None) or ()]
        assert not offered or resolution in offered  # a resolution the model makes


@pytest.mark.parametrize("spec", [s for s in _JOB_MODELS if s.unit_price and s.unit_price.variants], ids=lambda s: s.id)
def test_every_priced_resolution_is_one_the_model_makes(spec: ModelSpec) -> None:
    """A variant key the lookup can reach: a typo ("768P", "1080") would silently never match."""
    assert spec.unit_price is not None
    schema = request_schema(spec)
    offered = {str(v).lower() for v in (schema.enum("resolution") if schema else None) or ()}
    if schema is not None and "mode" in schema.fields:
        offered |= {"720p", "1080p"}  # Kling's std / pro
    if not offered:  # sizes only (Sora 2 Pro): the rungs of the short side
        offered = {f"{rung}p" for rung in job_units_module._LADDER}
    for key in spec.unit_price.variants:
        resolution = key.partition(":")[0]
        assert resolution == "*" or resolution in offered, key
