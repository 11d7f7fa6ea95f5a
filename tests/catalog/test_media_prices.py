"""Media prices per unit: the arithmetic from a published price to integer credits per million
units (``scripts/catalog_media.py``), ``UnitPrice``'s variants and costs, and the shipped table."""

from __future__ import annotations

import sys
from fractions import Fraction

import pytest

from tests.catalog.shared import ROOT
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import CREDITS_PER_USD, UnitPrice

sys.path.insert(0, str(ROOT / "scripts"))
from catalog_media import CREDITS_PER_USD as BUILD_CREDITS_PER_USD
from catalog_media import parse_price, per_million


@pytest.mark.parametrize(
    ("text", "unit", "usd_per_unit"),
    [
        ("0.04 per image", "image", Fraction(4, 100)),
        ("15 per 1M characters", "character", Fraction(15, 1_000_000)),
        ("0.03 per 1k characters", "character", Fraction(3, 100_000)),
        ("0.006 per minute", "second", Fraction(1, 10_000)),
        ("0.15 per hour", "second", Fraction(15, 360_000)),
        ("2 per 1k pages", "page", Fraction(1, 500)),
        ("0.035 per generation", "generation", Fraction(35, 1_000)),
        ("0.43 per 6 seconds", "second", Fraction(43, 600)),
    ],
)
def test_prices_parse_to_usd_per_unit_exactly(text: str, unit: str, usd_per_unit: Fraction) -> None:
    assert parse_price(text) == (unit, usd_per_unit)


@pytest.mark.parametrize("text", ["0.04", "0.04 per megapixel", "$0.04 per image", "per image", "1 per 1G images"])
def test_a_price_in_another_shape_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not '<USD> per"):
        parse_price(text)


def test_credits_per_million_units_round_up_never_down() -> None:
    assert BUILD_CREDITS_PER_USD == CREDITS_PER_USD == 2_000_000
    assert per_million(parse_price("0.04 per image")[1]) == 80_000_000_000  # 80,000 credits an image
    assert per_million(parse_price("15 per 1M characters")[1]) == 30_000_000  # 30 credits a character
    assert per_million(parse_price("0.006 per minute")[1]) == 200_000_000  # 200 credits a second
    # Deepgram Nova-2, $0.0043 a minute: 143.33... credits a second, kept to the next whole credit
    # per million seconds so that a long file is never billed under the list price.
    assert per_million(parse_price("0.0043 per minute")[1]) == 143_333_334


def test_a_variant_is_found_exactly_then_by_quality_then_by_size() -> None:
    price = UnitPrice(
        "image",
        80_000_000_000,
        {"hd:1024x1024": 160_000_000_000, "hd:*": 240_000_000_000, "*:1792x1024": 160_000_000_000},
        "list",
    )
    assert price.rate("hd:1024x1024") == 160_000_000_000
    assert price.rate("hd:1024x1792") == 240_000_000_000
    assert price.rate("standard:1792x1024") == 160_000_000_000
    assert price.rate("standard:1024x1024") == price.rate("") == 80_000_000_000
    assert price.cost(3, "hd:1024x1792") == 720_000  # three $0.12 images


def test_costs_of_fractional_units_round_up_to_a_whole_credit() -> None:
    second = UnitPrice("second", 143_333_334)
    assert second.cost(60) == 8_601  # a minute of Nova-2: $0.0043, and one credit of the rounding up
    assert second.cost(0.5) == 72  # 71.67 credits, rounded up
    assert second.cost(0) == 0
    character = UnitPrice("character", 30_000_000)
    assert character.cost(4_096) == 122_880  # 4,096 characters of tts-1 at $15 per 1M: $0.06144


_UNITS_OF_TYPE = {
    "image": {"image"},
    "tts": {"character"},
    "voice-chat": {"character"},
    "stt": {"second"},
    "ocr": {"page"},
    "video": {"second"},
    "music": {"second", "generation"},
    "3d": {"generation"},
}


def test_every_served_media_model_has_a_price_in_its_unit() -> None:
    priced = 0
    for spec in load_catalog():
        if spec.deprecated or spec.type not in _UNITS_OF_TYPE:
            continue
        priced += 1
        assert spec.unit_price is not None, spec.id
        assert spec.unit_price.unit in _UNITS_OF_TYPE[spec.type], spec.id
        assert spec.unit_price.per_million > 0, spec.id
        assert spec.unit_price.source in ("list", "estimate"), spec.id
        assert (spec.price_source, spec.price.cost(1_000, 1_000)) == ("unpriced", 0), spec.id
    assert priced == 162 + 111 - 3 + 9 + 2  # the media models of issue 14, and the generation jobs'


def test_spot_checks_of_the_shipped_table() -> None:
    specs = {s.id: s for s in load_catalog()}

    def usd(model_id: str, units: float, variant: str = "") -> float:
        price = specs[model_id].unit_price
        assert price is not None
        return price.cost(units, variant) / CREDITS_PER_USD

    assert usd("dall-e-3", 1, "hd:1792x1024") == 0.12
    assert usd("openai/gpt-image-1", 1, "high:1536x1024") == 0.25
    assert usd("openai/tts-1", 1_000_000) == 15
    assert usd("openai/tts-1-hd", 1_000_000) == 30
    assert usd("#g1_whisper-large", 60) == 0.006
    assert usd("#g1_aura-2-thalia-en", 1_000) == 0.03
    assert usd("#g1_aura-asteria-en", 1_000) == 0.015
    assert usd("aai/universal", 3_600) == pytest.approx(0.15, abs=1e-6)  # the rounding up: one credit
    assert usd("mistral/mistral-ocr-latest", 1_000) == 2
    assert usd("google/imagen-4.0-fast-generate-001", 1) == 0.02
    assert usd("google/nano-banana-pro", 1, ":2K") == 0.134
    assert usd("google/nano-banana-pro", 1, ":4K") == 0.24
    assert specs["openai/gpt-image-2"].unit_price is not None
    assert specs["openai/gpt-image-2"].unit_price.source == "estimate"
    assert specs["hume/octave-2"].unit_price == UnitPrice("character", 30_000_000, {}, "estimate")  # the default
    # Videos per second, by "<resolution>:<audio|silent>": an exact variant, then the resolution's,
    # then the sound's, else the price.
    assert usd("google/veo-3.1-t2v", 8, "1080p:audio") == 3.2
    assert usd("google/veo-3.1-t2v-fast", 8, "720p:audio") == 0.8
    assert usd("google/veo-3.1-t2v-fast", 8, "1080p:audio") == 0.96
    assert usd("sora-2-pro-t2v", 4, "1080p:audio") == 2
    assert usd("minimax/hailuo-02", 6, "1080p:silent") == pytest.approx(0.49, abs=1e-6)  # one credit up
    assert usd("minimax/hailuo-02", 10, "768p:silent") == 0.56
    assert usd("bytedance/seedance-1-5-pro", 10, "720p:audio") == pytest.approx(0.5184, abs=1e-6)
    assert usd("bytedance/seedance-1-5-pro", 10, "720p:silent") == pytest.approx(0.2592, abs=1e-6)
    assert usd("bytedance/seedance-1-5-pro", 10, "1080p:silent") == pytest.approx(0.5832, abs=1e-6)
    assert usd("klingai/video-v2-6-pro-text-to-video", 5, "*:silent") == 0.35
    assert usd("magic/text-to-video", 5, "720p:silent") == 0.5  # the video default
    # Music by length or per song; 3D per mesh.
    assert usd("elevenlabs/eleven_music", 60) == pytest.approx(0.8, abs=1e-6)
    assert usd("google/lyria2", 1) == 0.06
    assert usd("tencent/hunyuan-part", 1) == 0.1  # the 3D default
