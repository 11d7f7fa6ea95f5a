"""Image sizes in pixels (``providers/image_sizes.py``): the named sizes of the service's enum as
fal.ai defines them, ``WxH`` strings and objects, and aspect ratios at about one megapixel."""

from __future__ import annotations

import pytest

from unigate.errors import InvalidRequest
from unigate.providers.image_sizes import NAMED_SIZES, aspect_pixels, size_pixels


def test_the_named_sizes_are_fals() -> None:
    assert dict(NAMED_SIZES) == {
        "square_hd": (1024, 1024),
        "square": (512, 512),
        "portrait_4_3": (768, 1024),
        "portrait_16_9": (576, 1024),
        "landscape_4_3": (1024, 768),
        "landscape_16_9": (1024, 576),
    }
    assert size_pixels("portrait_16_9") == (576, 1024)


def test_sizes_as_strings_and_objects() -> None:
    assert size_pixels("1536x1024") == (1536, 1024)
    assert size_pixels(" 800 X 600 ") == (800, 600)
    assert size_pixels({"width": 640, "height": 480}) == (640, 480)
    assert size_pixels("auto") is None


@pytest.mark.parametrize("size", ["big", "0x512", "1024x", {"width": 640}, {"width": "640", "height": 480}, 1024])
def test_anything_else_is_a_400_naming_the_field(size: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        size_pixels(size, param="image_size")
    assert caught.value.param == "image_size"


@pytest.mark.parametrize(
    ("ratio", "pixels"),
    [
        ("1:1", (1024, 1024)),
        ("16:9", (1376, 768)),
        ("9:16", (768, 1376)),
        ("4:3", (1184, 896)),
        ("21:9", (1568, 672)),
        ("19.5:9", (1504, 704)),
    ],
)
def test_aspect_ratios_make_about_a_megapixel_in_steps_of_32(ratio: str, pixels: tuple[int, int]) -> None:
    width, height = aspect_pixels(ratio)
    assert (width, height) == pixels
    assert width % 32 == 0
    assert height % 32 == 0
    assert abs(width * height - 1024 * 1024) / (1024 * 1024) < 0.06


@pytest.mark.parametrize("ratio", ["wide", "0:1", "16:", "auto"])
def test_a_malformed_ratio_is_a_400(ratio: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        aspect_pixels(ratio)
    assert caught.value.param == "aspect_ratio"
