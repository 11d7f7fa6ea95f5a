"""fal's queue API through ``MockTransport``: the submission, status and result requests the
adapter sends, the canonical result, the polling (queued, running, completed; a deadline; a client
that leaves) and the errors. Recorded payloads: ``fixtures/fal/`` (their README gives each
source: fal's queue, errors and model API pages)."""

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
from unigate.providers.fal import POLICY, FalImages
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://queue.fal.run"
REQUEST_ID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
STATUS_URL = f"{BASE}/fal-ai/flux/requests/{REQUEST_ID}/status"
RESULT_URL = f"{BASE}/fal-ai/flux/requests/{REQUEST_ID}"


def spec(app: str) -> ModelSpec:
    return ModelSpec(id=app, provider="fal", upstream_model=app, price=Price(0, 0), type="image")


def queue(statuses: list[str], result: MockResponse | None = None) -> Callable[[Request], MockResponse]:
    """fal's queue: the submission, then one recorded status per poll, then the result."""
    left = list(statuses)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture("fal/submitted.json"))
        if request.url.endswith("/status"):
            name = left.pop(0) if len(left) > 1 else left[0]
            return MockResponse.json(fixture(f"fal/status_{name}.json"), status=200 if name == "completed" else 202)
        return result or MockResponse.json(fixture("fal/result_flux_dev.json"))

    return handler


async def make(handler: Callable[[Request], MockResponse], time: FakeTime, base: str = BASE) -> FalImages:
    config = provider_config("fal", base)
    adapter = FalImages(config, transport=MockTransport(handler), sleep=time.sleep, clock=time.clock)
    await adapter.start()
    return adapter


def sent(adapter: FalImages) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return transport.requests


async def test_a_request_is_submitted_polled_until_completed_and_read() -> None:
    time = FakeTime()
    fal = await make(queue(["in_queue", "in_progress", "completed"]), time)
    request = ImageRequest(
        model="flux/dev",
        prompt="a tiger eye",
        count=2,
        size="landscape_4_3",
        options={"seed": 7, "guidance_scale": 3.5, "enable_safety_checker": False, "provider": "fal"},
    )
    result = await fal.generate(request, spec("fal-ai/flux/dev"))

    submit, *polls, read = sent(fal)
    assert (submit.method, submit.url) == ("POST", f"{BASE}/fal-ai/flux/dev")
    assert submit.headers["Authorization"] == f"Key {UPSTREAM_KEY}"
    assert orjson.loads(submit.body) == {
        "prompt": "a tiger eye",
        "num_images": 2,
        "image_size": "landscape_4_3",
        "seed": 7,
        "guidance_scale": 3.5,
        "enable_safety_checker": False,
    }
    assert [(p.method, p.url) for p in polls] == [("GET", STATUS_URL)] * 3
    assert all(p.headers["Authorization"] == f"Key {UPSTREAM_KEY}" for p in polls)
    assert (read.method, read.url) == ("GET", RESULT_URL)
    assert result.images == (GeneratedImage(url="https://v3.fal.media/files/rabbit/aQEmU4lEKKIIr9cDOChUB.png"),)
    assert result.seed == 920212137
    assert result.model == "fal-ai/flux/dev"
    assert time.waits == [0.5, 0.75, 1.125]


async def test_sizes_input_images_and_the_mask_go_where_each_app_reads_them() -> None:
    fal = await make(queue(["completed"]), FakeTime())
    png = Blob(b"\x89PNG\r\n\x1a\n", "image/png")
    images = (Source(url="https://example.com/a.png"), Source(blob=png))
    edit = ImageRequest(model="m", prompt="p", size="1536x1024", images=images, mask=Source(url="https://e.com/m.png"))
    await fal.generate(edit, spec("fal-ai/flux-2/edit"))
    await fal.generate(ImageRequest(model="m", prompt="p", images=images[:1]), spec("fal-ai/flux/dev/image-to-image"))
    await fal.generate(ImageRequest(model="m", prompt=None, images=images, output_format="png"), spec("fal-ai/uso"))

    bodies = [orjson.loads(r.body) for r in sent(fal) if r.method == "POST"]
    assert bodies[0] == {
        "prompt": "p",
        "image_size": {"width": 1536, "height": 1024},
        "image_urls": ["https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo="],
        "mask_url": "https://e.com/m.png",
    }
    assert bodies[1] == {"prompt": "p", "image_url": "https://example.com/a.png"}
    assert bodies[2] == {
        "input_image_urls": ["https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo="],
        "output_format": "png",
    }


async def test_urls_fal_returns_on_another_host_are_not_sent_our_key() -> None:
    fal = await make(queue(["completed"]), FakeTime(), base="https://fal-proxy.internal.example")
    await fal.generate(ImageRequest(model="m", prompt="p"), spec("fal-ai/flux/dev"))
    urls = [r.url for r in sent(fal)]
    own = "https://fal-proxy.internal.example/fal-ai/flux/requests/" + REQUEST_ID
    assert urls == ["https://fal-proxy.internal.example/fal-ai/flux/dev", own + "/status", own]


async def test_an_answer_in_sync_mode_is_bytes() -> None:
    answer = {"images": [{"url": "data:image/png;base64,iVBORw0KGgo=", "content_type": "image/png"}], "seed": 3}
    fal = await make(queue(["completed"], MockResponse.json(answer)), FakeTime())
    result = await fal.generate(
        ImageRequest(model="m", prompt="p", options={"sync_mode": True}), spec("fal-ai/flux/dev")
    )
    assert result.images == (GeneratedImage(blob=Blob(b"\x89PNG\r\n\x1a\n", "image/png")),)


async def test_a_request_fal_refused_answers_its_validation_error_as_a_400() -> None:
    refused = MockResponse.json(fixture("fal/error_validation.json"), status=422)
    fal = await make(queue(["in_progress", "completed"], refused), FakeTime())
    with pytest.raises(InvalidRequest) as caught:
        await fal.generate(ImageRequest(model="m", prompt="p", size="20000x20000"), spec("fal-ai/flux/dev"))
    assert caught.value.param == "image_size"
    assert "image_size: Image size is too large" in caught.value.message


async def test_a_request_that_timed_out_at_fal_is_a_504() -> None:
    late = MockResponse.json(fixture("fal/error_timeout.json"), status=504)
    fal = await make(queue(["completed"], late), FakeTime())
    with pytest.raises(UpstreamTimeout, match="Request timed out"):
        await fal.generate(ImageRequest(model="m", prompt="p"), spec("fal-ai/flux/dev"))


async def test_a_failed_status_ends_the_polling_with_fal_s_error() -> None:
    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture("fal/submitted.json"))
        return MockResponse.json({"status": "FAILED", "error": "Runner crashed"})

    fal = await make(handler, FakeTime())
    with pytest.raises(UpstreamError, match=f"request {REQUEST_ID} ended failed: Runner crashed"):
        await fal.generate(ImageRequest(model="m", prompt="p"), spec("fal-ai/flux/dev"))


async def test_a_request_still_queued_at_the_deadline_is_a_504_and_polling_stops() -> None:
    time = FakeTime()
    fal = await make(queue(["in_queue"]), time)
    with pytest.raises(UpstreamTimeout, match="did not finish within 300 s"):
        await fal.generate(ImageRequest(model="m", prompt="p"), spec("fal-ai/flux/dev"))
    assert sum(time.waits) <= POLICY.deadline_s
    assert sum(time.waits) + POLICY.max_interval_s > POLICY.deadline_s
    assert len([r for r in sent(fal) if r.url == STATUS_URL]) == len(time.waits)


async def test_a_client_that_leaves_stops_the_polling() -> None:
    time = FakeTime(block_at=3)
    fal = await make(queue(["in_queue"]), time)
    task = asyncio.create_task(fal.generate(ImageRequest(model="m", prompt="p"), spec("fal-ai/flux/dev")))
    await time.blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(sent(fal)) == 1 + 2  # the submission and the two polls before the third wait
    await asyncio.sleep(0)
    assert len(sent(fal)) == 3


async def test_a_wrong_key_is_our_configuration_error_naming_the_variable() -> None:
    fal = await make(lambda r: MockResponse.json({"detail": "Invalid key"}, status=401), FakeTime())
    with pytest.raises(UpstreamError) as caught:
        await fal.generate(ImageRequest(model="m", prompt="p"), spec("fal-ai/flux/dev"))
    assert caught.value.code == "upstream_auth_failed"
    assert "FAL_KEY" in caught.value.message


def test_a_malformed_size_is_refused_before_anything_is_sent() -> None:
    fal = FalImages(provider_config("fal", BASE), transport=MockTransport(queue(["completed"])))
    with pytest.raises(InvalidRequest) as caught:
        fal.check_image(ImageRequest(model="m", prompt="p", size="bigxwide"), spec("fal-ai/flux/dev"))
    assert caught.value.param == "size"
