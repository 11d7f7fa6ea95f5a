"""Topaz Labs' Image API (``TopazImages``) through ``MockTransport``: the multipart job sent (a
URL as ``source_url``, bytes as the ``image`` file, ``mode`` as ``model``), the status polled,
the download link returned, refusals before any request, and the errors. Recorded payloads:
``fixtures/topaz/`` (its README: Topaz's "Image API" OpenAPI description)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture_json, provider_config
from tests.providers.fake_time import FakeTime
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.media import Blob, GeneratedImage, ImageRequest, Source
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError, UpstreamTimeout
from unigate.providers.topaz import POLICY, TopazImages
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.topazlabs.com/image/v1"
PROCESS_ID = "d7b3b3b3-7b3b-4b3b-8b3b-3b3b3b3b3b3b"
IMAGE_URL = "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/blurred-landscape.png"
SHARPEN = ModelSpec(
    id="topaz-labs/sharpen", provider="topaz", upstream_model="sharpen", price=Price(0, 0), type="image"
)
SHARPEN_GEN = ModelSpec(
    id="topaz-labs/sharpen-gen", provider="topaz", upstream_model="sharpen-gen", price=Price(0, 0), type="image"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)  # a PNG signature: Topaz gets the bytes as they are


def topaz(statuses: list[str]) -> Callable[[Request], MockResponse]:
    """Topaz's API: the job, one recorded status per poll, then the download link."""
    left = list(statuses)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture_json("topaz/async_response.json"))
        if "/status/" in request.url:
            name = left.pop(0) if len(left) > 1 else left[0]
            return MockResponse.json(fixture_json(f"topaz/status_{name}.json"))
        return MockResponse.json(fixture_json("topaz/download.json"))

    return handler


async def make(handler: Callable[[Request], MockResponse], time: FakeTime) -> TopazImages:
    adapter = TopazImages(
        provider_config("topaz", BASE), transport=MockTransport(handler), sleep=time.sleep, clock=time.clock
    )
    await adapter.start()
    return adapter


def sent(adapter: TopazImages) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return transport.requests


def form_fields(request: Request) -> dict[str, str]:
    """The plain fields of a multipart body, by name."""
    boundary = request.headers["Content-Type"].split("boundary=")[1]
    fields = {}
    for part in request.body.split(f"--{boundary}".encode())[1:-1]:
        head, _, value = part.partition(b"\r\n\r\n")
        name = head.decode().split('name="')[1].split('"')[0]
        fields[name] = value.removesuffix(b"\r\n").decode(errors="replace")
    return fields


async def test_a_sharpen_job_is_sent_as_a_form_polled_until_completed_and_its_link_returned() -> None:
    time = FakeTime()
    adapter = await make(topaz(["pending", "processing", "completed"]), time)
    request = ImageRequest(
        model="topaz-labs/sharpen",
        prompt=None,
        output_format="png",
        images=(Source(url=IMAGE_URL),),
        options={"mode": "Lens Blur", "strength": 0.6, "face_enhancement": False, "subject_detection": "Foreground"},
    )
    result = await adapter.generate(request, SHARPEN)

    job, *polls, download = sent(adapter)
    assert (job.method, job.url) == ("POST", f"{BASE}/sharpen/async")
    assert job.headers["X-API-Key"] == UPSTREAM_KEY
    assert job.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert form_fields(job) == {
        "model": "Lens Blur",
        "strength": "0.6",
        "face_enhancement": "false",
        "subject_detection": "Foreground",
        "output_format": "png",
        "source_url": IMAGE_URL,
    }
    assert [(p.method, p.url) for p in polls] == [("GET", f"{BASE}/status/{PROCESS_ID}")] * 3
    assert all(p.headers["X-API-Key"] == UPSTREAM_KEY for p in polls)
    assert (download.method, download.url) == ("GET", f"{BASE}/download/{PROCESS_ID}")
    link = fixture_json("topaz/download.json")["download_url"]
    assert result.images == (GeneratedImage(url=link),)
    assert result.model == "Standard"  # as the status reports it
    assert time.waits == [POLICY.first_s, POLICY.first_s * 1.5, POLICY.first_s * 1.5**2]


async def test_an_uploaded_image_goes_as_the_image_file_to_the_generative_endpoint() -> None:
    adapter = await make(topaz(["completed"]), FakeTime())
    blob = Blob(PNG, "image/png")
    request = ImageRequest(
        model="topaz-labs/sharpen-gen",
        prompt=None,
        images=(Source(blob=blob),),
        options={"mode": "Super Focus V2", "focus_boost": 0.5, "seed": 42},
    )
    await adapter.generate(request, SHARPEN_GEN)

    job = sent(adapter)[0]
    assert job.url == f"{BASE}/sharpen-gen/async"
    assert form_fields(job) == {
        "model": "Super Focus V2",
        "focus_boost": "0.5",
        "seed": "42",
        "image": PNG.decode(errors="replace"),
    }
    assert b'name="image"; filename="image.png"\r\nContent-Type: image/png\r\n\r\n' + PNG in job.body


def test_what_sharpen_cannot_take_is_refused_before_any_request() -> None:
    adapter = TopazImages(provider_config("topaz", BASE), transport=MockTransport(topaz(["completed"])))
    one = (Source(url=IMAGE_URL),)
    with pytest.raises(InvalidRequest, match="exactly one input image"):
        adapter.check_image(ImageRequest(model="m", prompt=None, options={"mode": "Standard"}), SHARPEN)
    with pytest.raises(InvalidRequest, match="exactly one input image"):
        adapter.check_image(ImageRequest(model="m", prompt=None, images=one * 2), SHARPEN)
    with pytest.raises(UnsupportedParameter):
        adapter.check_image(ImageRequest(model="m", prompt="sharper", images=one), SHARPEN)
    with pytest.raises(UnsupportedParameter):
        adapter.check_image(ImageRequest(model="m", prompt=None, images=one, size="1024x1024"), SHARPEN)
    with pytest.raises(UnsupportedParameter):
        adapter.check_image(ImageRequest(model="m", prompt=None, images=one, count=2), SHARPEN)
    with pytest.raises(InvalidRequest, match="no endpoint"):
        adapter.check_image(
            ImageRequest(model="m", prompt=None, images=one), replace(SHARPEN, upstream_model="enhance")
        )


async def test_a_failed_job_is_an_upstream_error_and_a_job_that_never_ends_times_out() -> None:
    failed = await make(topaz(["processing", "failed"]), FakeTime())
    with pytest.raises(UpstreamError, match="ended failed"):
        await failed.generate(ImageRequest(model="m", prompt=None, images=(Source(url=IMAGE_URL),)), SHARPEN)
    assert not any("/download/" in r.url for r in sent(failed))

    time = FakeTime()
    stuck = await make(topaz(["processing"]), time)
    with pytest.raises(UpstreamTimeout):
        await stuck.generate(ImageRequest(model="m", prompt=None, images=(Source(url=IMAGE_URL),)), SHARPEN)
    assert sum(time.waits) <= POLICY.deadline_s


async def test_a_client_that_leaves_stops_the_polling() -> None:
    time = FakeTime(block_at=2)
    adapter = await make(topaz(["processing"]), time)
    task = asyncio.create_task(
        adapter.generate(ImageRequest(model="m", prompt=None, images=(Source(url=IMAGE_URL),)), SHARPEN)
    )
    await time.blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(sent(adapter)) == 2  # the job and one status


@pytest.mark.parametrize(
    ("name", "status", "error", "message"),
    [
        ("error_unprocessable", 422, InvalidRequest, "invalid dimensions"),
        ("error_unauthorized", 401, UpstreamError, "TOPAZ_API_KEY"),
        ("error_payment_required", 402, UpstreamError, "Insufficient funds"),
    ],
)
async def test_topaz_errors_are_typed(name: str, status: int, error: type[Exception], message: str) -> None:
    body = fixture_json(f"topaz/{name}.json")
    adapter = await make(lambda request: MockResponse.json(body, status=status), FakeTime())
    with pytest.raises(error, match=message):
        await adapter.generate(ImageRequest(model="m", prompt=None, images=(Source(url=IMAGE_URL),)), SHARPEN)
