"""The build's media inputs (``scripts/catalog_media.py``): ``routes/*.toml`` replace a model's
provider and say why one is unavailable, ``media_prices.toml`` prices it per unit, and both fail
the build on an id the seeds do not list. The routes here are a fixture (``fixtures/routes``),
not the shipped ones, which the provider adapters own."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.catalog.shared import HAVE_REFERENCE, HAVE_SEEDS, REFERENCE, ROOT, SEEDS
from unigate.catalog import loader

sys.path.insert(0, str(ROOT / "scripts"))
import build_catalog
import build_media_requests

DATA = ROOT / "src" / "unigate" / "catalog" / "data"
FIXTURE = Path(__file__).with_name("fixtures") / "routes"
needs_seeds = pytest.mark.skipif(not HAVE_SEEDS, reason=f"the seeds ({SEEDS}) are not checked out beside the repo")


def _media(folder: Path, routes: dict[str, str]) -> Path:
    """A media folder: the shipped prices and request schemas, and these route files."""
    (folder / "routes").mkdir(parents=True)
    for name in ("media_prices.toml", "media_requests.json"):
        shutil.copy(DATA / name, folder / name)
    for name, text in routes.items():
        (folder / "routes" / name).write_text(text, encoding="utf-8")
    return folder


def _build(media: Path) -> dict[str, dict[str, Any]]:
    raw = orjson.loads(build_catalog.build(SEEDS, DATA / "overrides.toml", media))
    return {r["id"]: r for r in raw["models"]}


@needs_seeds
def test_routes_replace_the_provider_and_carry_the_reason(tmp_path: Path) -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in FIXTURE.glob("*.toml")}
    models = _build(_media(tmp_path, files))
    route = {k: (models[k]["provider"], models[k]["upstream_model"]) for k in ("openai/gpt-image-1", "flux/dev")}
    assert route == {"openai/gpt-image-1": ("openai", "gpt-image-1"), "flux/dev": ("fal", "fal-ai/flux/dev")}
    assert models["#g1_aura-2-zeus-en"]["provider"] == "deepgram"
    assert models["elevenlabs/eleven_turbo_v2_5"]["upstream_model"] == "eleven_turbo_v2_5"  # the usual rule
    realism = models["flux-realism"]
    assert (realism["provider"], realism["upstream_model"]) == ("", "")
    assert realism["unavailable"] == "No provider with a public API serves FLUX Realism."
    assert "unavailable" not in models["flux/dev"]
    spec = loader._spec(realism, loader._Shared())
    assert spec.unavailable == realism["unavailable"]
    assert spec.unit_price is not None
    # What no route names keeps what the overrides say.
    assert (models["dall-e-3"]["provider"], models["gpt-4o"]["provider"]) == ("openai", "openai")


@needs_seeds
@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"a.toml": '["no/such-model"]\nprovider = "fal"\n'}, "routes name models the seeds do not list"),
        ({"a.toml": '["x-ai/grok-2-image"]\nprovider = "xai"\n'}, "routes name deprecated models"),
        ({"a.toml": '["flux/dev"]\nprovider = "fal"\n', "b.toml": '["flux/dev"]\nprovider = "bfl"\n'}, "routed twice"),
        ({"a.toml": '["flux/dev"]\nprovider = ""\n'}, 'provider = "" needs an unavailable reason'),
        ({"a.toml": '["flux/dev"]\nprovider = "fal"\nunavailable = "no"\n'}, "a routed model is not unavailable"),
        ({"a.toml": '["flux/dev"]\nprovider = "fal"\nprice = 1\n'}, "unknown keys ['price']"),
        ({"a.toml": '["flux/dev"]\nprovider = "Fal AI"\n'}, "is not a provider name"),
    ],
)
def test_a_bad_route_fails_the_build(tmp_path: Path, files: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        _build(_media(tmp_path, files))


_ONE = 'price = "1 per image", source = "estimate", note = "n"'


@needs_seeds
@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ('"no/such-model" = { price = "1 per image", source = "estimate", note = "n" }', "names no active media"),
        ('"veo2" = { price = "1 per second", source = "estimate", note = "n" }', "a video model, a type left unpriced"),
        ('"dall-e-2" = { price = "1 per image", source = "list" }', "needs the https ref"),
        ('"dall-e-2" = { price = "1 per image", source = "estimate" }', "needs a note"),
        ('"dall-e-2" = { price = "one dollar", source = "estimate", note = "n" }', "is not '<USD> per"),
        (f'"dall-e-2" = {{ {_ONE}, variants = {{ "hd" = "2 per image" }} }}', "is not '<quality>:<size>'"),
        (f'"dall-e-2" = {{ {_ONE}, variants = {{ "hd:*" = "2 per page" }} }}', "is per page, the price per image"),
    ],
)
def test_a_bad_price_fails_the_build(tmp_path: Path, entry: str, error: str) -> None:
    media = _media(tmp_path, {})
    (media / "media_prices.toml").write_text(f'[defaults]\nimage = "0.04 per image"\n[models]\n{entry}\n')
    with pytest.raises(ValueError, match=error.replace("[", r"\[")):
        _build(media)


_SECOND = 'price = "1 per second", source = "estimate", note = "n"'
_PRICED = 'image = "0.04 per image"\nvideo = "0.1 per second"\nmusic = "0.05 per generation"\n3d = "0.1 per generation"'


@needs_seeds
@pytest.mark.parametrize(
    ("defaults", "entry", "error"),
    [
        (_PRICED, '"veo2" = { price = "1 per image", source = "list", ref = "https://x" }', "a video model is not"),
        (_PRICED, '"triposr" = { price = "1 per second", source = "list", ref = "https://x" }', "a 3d model is not"),
        (_PRICED, '"music-01" = { price = "1 per page", source = "list", ref = "https://x" }', "a music model is not"),
        (_PRICED, f'"veo2" = {{ {_SECOND}, variants = {{ "720p:loud" = "2 per second" }} }}', "'720p:loud' is not"),
        (_PRICED, f'"veo2" = {{ {_SECOND}, variants = {{ "720P:*" = "2 per second" }} }}', "(lower case)"),
        ('video = "0.1 per image"', "", "[defaults] video: a video model is not priced per image"),
    ],
)
def test_a_price_in_a_unit_its_type_does_not_count_fails_the_build(
    tmp_path: Path, defaults: str, entry: str, error: str
) -> None:
    media = _media(tmp_path, {})
    (media / "media_prices.toml").write_text(f"[defaults]\n{defaults}\n[models]\n{entry}\n")
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        _build(media)


@needs_seeds
def test_prices_reach_the_media_models_only(tmp_path: Path) -> None:
    models = _build(_media(tmp_path, {}))
    assert models["dall-e-2"]["price"] == {
        "source": "list",
        "unit": "image",
        "per_million": 40_000_000_000,  # $0.02 = 40,000 credits an image
        "variants": {"*:256x256": 32_000_000_000, "*:512x512": 36_000_000_000},
    }
    assert models["gpt-4o"]["price"] == {"input": 5_000_000, "output": 20_000_000, "source": "list"}
    assert models["veo2"]["price"] == {
        "source": "list",
        "unit": "second",
        "per_million": 700_000_000_000,  # $0.35 = 700,000 credits a second of video
        "variants": {},
    }
    assert models["triposr"]["price"]["unit"] == "generation"
    assert models["openai/gpt-image-1"]["endpoints"] == ["/v1/images/generations", "/v1/images/edits"]
    assert models["#g1_nova-2-general"]["endpoints"] == ["/v1/stt/create", "/v1/audio/transcriptions"]


@pytest.mark.skipif(not HAVE_REFERENCE, reason=f"the API reference ({REFERENCE}) is not checked out beside the repo")
def test_the_committed_request_schemas_are_the_scripts_output() -> None:
    data, missing = build_media_requests.build(REFERENCE, DATA / "models.json")
    assert data == (DATA / "media_requests.json").read_bytes(), "stale: run scripts/build_media_requests.py"
    assert missing == ["alibaba/wan2.2-vace-fun-14b-depth"]  # the reference spells it a14b (seed-crosscheck §1)
