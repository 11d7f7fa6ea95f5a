"""``providers/polling.py`` and ``providers/imaging.py``: the waits between two questions, the
deadline, and the helpers every image adapter shares (sizes, ratios, base64, several calls)."""

from __future__ import annotations

import asyncio

import pytest

from tests.providers.fake_time import FakeTime
from unigate.core.media import Blob, GeneratedImage
from unigate.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from unigate.providers.imaging import aspect_ratio, decode_image, dimensions, fan_out, nearest_ratio, nth_seed
from unigate.providers.polling import PollPolicy, poll


async def test_the_waits_grow_to_their_cap_and_the_outcome_is_returned() -> None:
    time = FakeTime()
    answers = [None, None, None, None, "done"]

    async def check() -> str | None:
        return answers.pop(0)

    policy = PollPolicy(first_s=1.0, factor=2.0, max_interval_s=5.0, deadline_s=60.0)
    assert await poll(check, policy=policy, sleep=time.sleep, clock=time.clock, what="t") == "done"
    assert time.waits == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_no_wait_ends_past_the_deadline() -> None:
    time = FakeTime()
    asked = 0

    async def check() -> None:
        nonlocal asked
        asked += 1

    policy = PollPolicy(first_s=1.0, factor=2.0, max_interval_s=4.0, deadline_s=10.0)
    with pytest.raises(UpstreamTimeout, match=r"The task did not finish within 10 s\."):
        await poll(check, policy=policy, sleep=time.sleep, clock=time.clock, what="The task")
    assert time.waits == [1.0, 2.0, 4.0]  # a fourth wait of 4 s would end at 11 s
    assert asked == 3


async def test_a_failure_the_check_raises_ends_the_polling() -> None:
    time = FakeTime()

    async def check() -> None:
        raise UpstreamError("failed")

    with pytest.raises(UpstreamError, match="failed"):
        await poll(check, policy=PollPolicy(), sleep=time.sleep, clock=time.clock, what="t")
    assert len(time.waits) == 1


def test_sizes_are_read_as_pixels() -> None:
    assert dimensions("landscape_16_9") == (1024, 576)
    assert dimensions("portrait_4_3") == (768, 1024)
    assert dimensions("1536X1024") == (1536, 1024)
    assert dimensions("auto") is None
    assert dimensions(None) is None
    assert dimensions("2K") is None
    with pytest.raises(InvalidRequest):
        dimensions("0x512")
    assert aspect_ratio(1024, 768) == "4:3"
    assert nearest_ratio(1000, 700, ["1:1", "3:2", "16:9"]) == "3:2"
    assert nearest_ratio(512, 1024, ["2:1", "1:1", "9:16"]) == "9:16"


def test_base64_images_are_typed_by_their_bytes() -> None:
    assert decode_image("iVBORw0KGgo=", "image/jpeg", provider="p") == Blob(b"\x89PNG\r\n\x1a\n", "image/png")
    assert decode_image("data:image/webp;base64,AAAA", "image/png", provider="p").content_type == "image/webp"
    with pytest.raises(UpstreamError, match="not valid base64"):
        decode_image("not base64!", "image/png", provider="p")


async def test_several_calls_run_at_once_and_the_first_failure_cancels_the_others() -> None:
    started = 0
    cancelled = 0

    async def one(index: int) -> list[GeneratedImage]:
        nonlocal started, cancelled
        started += 1
        if started == 2:
            raise UpstreamError("second failed")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled += 1
            raise
        return []

    with pytest.raises(UpstreamError, match="second failed"):
        await fan_out(3, one)
    assert (started, cancelled) == (3, 2)

    async def image(index: int) -> list[GeneratedImage]:
        return [GeneratedImage(url=f"https://e.com/{index}.png")]

    assert [i.url for i in await fan_out(3, image)] == [f"https://e.com/{i}.png" for i in range(3)]
    assert nth_seed(7, 2) == 9
    assert nth_seed(None, 2) is None
