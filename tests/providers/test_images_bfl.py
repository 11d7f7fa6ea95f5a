"""Black Forest Labs' API through ``MockTransport``: the requests the adapter sends per endpoint,
the polling (pending, ready; moderated; failed; a deadline; a client that leaves), the result
and the errors. Recorded payloads: ``fixtures/bfl/`` (their README gives each source: BFL's API
reference and its published API skill)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from tests.providers.fake_time import FakeTime
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.media import Blob, GeneratedImage, ImageRequest, Source
from unigate.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from unigate.providers.bfl import POLICY, BflImages
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.bfl.ai"
POLL = f"{BASE}/v1/get_result?id=gen_abc123xyz"
SAMPLE = orjson.loads(fixture("bfl/ready.json"))["result"]["sample"]


def spec(endpoint: str) -> ModelSpec:
    return ModelSpec(id=endpoint, provider="bfl", upstream_model=endpoint, price=Price(0, 0), type="image")


def bfl(polls: list[str], submitted: dict[str, str] | None = None) -> Callable[[Request], MockResponse]:
    left = list(polls)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(submitted or fixture("bfl/submitted.json"))
        name = left.pop(0) if len(left) > 1 else left[0]
        return MockResponse.json(fixture(f"bfl/{name}.json"))

    return handler


async def make(handler: Callable[[Request], MockResponse], time: FakeTime) -> BflImages:
    adapter = BflImages(
        provider_config("bfl", BASE), transport=MockTransport(handler), sleep=time.sleep, clock=time.clock
    )
    await adapter.start()
    return adapter


def sent(adapter: BflImages) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return transport.requests


async def test_flux_2_pro_is_submitted_with_its_fields_and_polled_until_ready() -> None:
    time = FakeTime()
    client = await make(bfl(["pending", "pending", "ready"]), time)
    images = (Source(url="https://example.com/person.jpg"), Source(blob=Blob(b"\xff\xd8\xff\xe0", "image/jpeg")))
    request = ImageRequest(
        model="blackforestlabs/flux-2-pro-edit",
        prompt="The person from image 1 in the room of image 2",
        size="landscape_4_3",
        output_format="png",
        images=images,
        options={"seed": 42, "safety_tolerance": "2", "enable_safety_checker": True},
    )
    result = await client.generate(request, spec("flux-2-pro"))

    submit, *polls = sent(client)
    assert (submit.method, submit.url, submit.headers["x-key"]) == ("POST", f"{BASE}/v1/flux-2-pro", UPSTREAM_KEY)
    assert orjson.loads(submit.body) == {
        "prompt": "The person from image 1 in the room of image 2",
        "width": 1024,
        "height": 768,
        "seed": 42,
        "output_format": "png",
        "safety_tolerance": 2,
        "input_image": "https://example.com/person.jpg",
        "input_image_2": "/9j/4A==",
    }
    assert [(p.method, p.url, p.headers["x-key"]) for p in polls] == [("GET", POLL, UPSTREAM_KEY)] * 3
    assert result.images == (GeneratedImage(url=SAMPLE),)
    assert result.seed == 1234567890
    assert time.waits == [0.5, 0.75, 1.125]


async def test_ultra_and_kontext_take_an_aspect_ratio_not_pixels() -> None:
    client = await make(bfl(["ready"]), FakeTime())
    await client.generate(
        ImageRequest(model="m", prompt="a lake", size="1024x576", options={"raw": True}), spec("flux-pro-1.1-ultra")
    )
    await client.generate(
        ImageRequest(model="m", prompt="a lake", size="square_hd", options={"aspect_ratio": "21:9"}),
        spec("flux-kontext-pro"),
    )
    bodies = [orjson.loads(r.body) for r in sent(client) if r.method == "POST"]
    assert bodies == [
        {"prompt": "a lake", "aspect_ratio": "16:9", "raw": True},
        {"prompt": "a lake", "aspect_ratio": "21:9"},
    ]


async def test_each_image_asked_for_is_one_task() -> None:
    client = await make(bfl(["ready"]), FakeTime())
    result = await client.generate(
        ImageRequest(model="m", prompt="p", count=3, options={"seed": 5}), spec("flux-pro-1.1")
    )
    assert [orjson.loads(r.body)["seed"] for r in sent(client) if r.method == "POST"] == [5, 6, 7]
    assert result.images == (GeneratedImage(url=SAMPLE),) * 3


async def test_a_regional_polling_url_is_used_and_a_foreign_one_is_not() -> None:
    regional = {"id": "gen_abc123xyz", "polling_url": "https://api.us1.bfl.ai/v1/get_result?id=gen_abc123xyz"}
    client = await make(bfl(["ready"], regional), FakeTime())
    await client.generate(ImageRequest(model="m", prompt="p"), spec("flux-pro-1.1"))
    assert sent(client)[1].url == regional["polling_url"]

    foreign = {"id": "gen_abc123xyz", "polling_url": "https://collector.example.net/v1/get_result?id=gen_abc123xyz"}
    client = await make(bfl(["ready"], foreign), FakeTime())
    await client.generate(ImageRequest(model="m", prompt="p"), spec("flux-pro-1.1"))
    assert sent(client)[1].url == POLL


async def test_a_moderated_image_is_a_400_saying_so() -> None:
    client = await make(bfl(["pending", "content_moderated"]), FakeTime())
    with pytest.raises(InvalidRequest) as caught:
        await client.generate(ImageRequest(model="m", prompt="p"), spec("flux-2-pro"))
    assert caught.value.code == "content_moderated"
    assert "refused the generated image (Content Moderated)" in caught.value.message


async def test_a_failed_task_is_a_502_with_bfl_s_details() -> None:
    client = await make(bfl(["error"]), FakeTime())
    with pytest.raises(UpstreamError, match=r"task gen_abc123xyz failed \(Error\): Generation failed\."):
        await client.generate(ImageRequest(model="m", prompt="p"), spec("flux-2-pro"))


async def test_a_task_still_pending_at_the_deadline_is_a_504() -> None:
    time = FakeTime()
    client = await make(bfl(["pending"]), time)
    with pytest.raises(UpstreamTimeout, match="task gen_abc123xyz did not finish within 300 s"):
        await client.generate(ImageRequest(model="m", prompt="p"), spec("flux-2-pro"))
    assert POLICY.deadline_s - POLICY.max_interval_s < sum(time.waits) <= POLICY.deadline_s


async def test_a_client_that_leaves_stops_the_polling() -> None:
    time = FakeTime(block_at=2)
    client = await make(bfl(["pending"]), time)
    task = asyncio.create_task(client.generate(ImageRequest(model="m", prompt="p"), spec("flux-2-pro")))
    await time.blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert [r.method for r in sent(client)] == ["POST", "GET"]


async def test_refused_fields_and_missing_credits_are_mapped() -> None:
    client = await make(lambda r: MockResponse.json(fixture("bfl/error_validation.json"), status=422), FakeTime())
    with pytest.raises(InvalidRequest) as refused:
        await client.generate(ImageRequest(model="m", prompt="p", options={"safety_tolerance": 7}), spec("flux-2-pro"))
    assert refused.value.param == "safety_tolerance"
    assert "less than or equal to 6" in refused.value.message

    client = await make(lambda r: MockResponse.json(fixture("bfl/error_credits.json"), status=402), FakeTime())
    with pytest.raises(UpstreamError, match=r"HTTP 402\): Insufficient credits"):
        await client.generate(ImageRequest(model="m", prompt="p"), spec("flux-2-pro"))


def test_sizes_a_model_cannot_make_and_masks_are_refused_before_anything_is_sent() -> None:
    client = BflImages(provider_config("bfl", BASE), transport=MockTransport(bfl(["ready"])))
    with pytest.raises(InvalidRequest) as size:
        client.check_image(ImageRequest(model="m", prompt="p", size="2K"), spec("flux-2-pro"))
    assert size.value.param == "size"
    with pytest.raises(InvalidRequest) as mask:
        client.check_image(
            ImageRequest(model="m", prompt="p", mask=Source(url="https://e.com/m.png")), spec("flux-2-pro")
        )
    assert mask.value.param == "mask"
