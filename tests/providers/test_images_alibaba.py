"""Alibaba's DashScope native API through ``MockTransport``: Wan text-to-image tasks (created,
polled pending, running, succeeded; failed; a deadline; a client that leaves) and the synchronous
multimodal generation of Qwen-Image and Qwen-Image-Edit, with their exact bodies and sizes, and
the errors. Recorded payloads: ``fixtures/alibaba/`` (their README gives each source: Model
Studio's API references and the DashScope SDK's tests)."""

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
from unigate.providers.dashscope import POLICY, DashScopeImages, native_origin, size_param
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

COMPATIBLE = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
ORIGIN = "https://dashscope-intl.aliyuncs.com"
TASK = "0385dc79-5ff8-4d82-bcb6-xxxxxx"


def spec(upstream: str) -> ModelSpec:
    return ModelSpec(id=f"alibaba/{upstream}", provider="alibaba", upstream_model=upstream, price=Price(0, 0))


def tasks(polls: list[str]) -> Callable[[Request], MockResponse]:
    left = list(polls)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture("alibaba/task_created.json"))
        name = left.pop(0) if len(left) > 1 else left[0]
        return MockResponse.json(fixture(f"alibaba/task_{name}.json"))

    return handler


async def make(handler: Callable[[Request], MockResponse], time: FakeTime | None = None) -> DashScopeImages:
    time = time or FakeTime()
    adapter = DashScopeImages(
        provider_config("alibaba", COMPATIBLE), transport=MockTransport(handler), sleep=time.sleep, clock=time.clock
    )
    await adapter.start()
    return adapter


def sent(adapter: DashScopeImages) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return transport.requests


async def test_a_wan_task_is_created_polled_until_it_succeeds_and_read() -> None:
    time = FakeTime()
    wan = await make(tasks(["running", "running", "succeeded"]), time)
    request = ImageRequest(
        model="alibaba/wan2.2-t2i-flash",
        prompt="A flower shop with exquisite windows, a beautiful wooden door, and flowers on display",
        count=2,
        size="landscape_4_3",
        options={"negative_prompt": "low resolution", "enhance_prompt": True, "seed": 42},
    )
    result = await wan.generate(request, spec("wan2.2-t2i-flash"))

    create, *polls = sent(wan)
    assert (create.method, create.url) == ("POST", f"{ORIGIN}/api/v1/services/aigc/text2image/image-synthesis")
    assert create.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert create.headers["X-DashScope-Async"] == "enable"
    assert orjson.loads(create.body) == {
        "model": "wan2.2-t2i-flash",
        "input": {"prompt": request.prompt, "negative_prompt": "low resolution"},
        "parameters": {"watermark": False, "size": "1024*768", "prompt_extend": True, "seed": 42, "n": 2},
    }
    assert [(p.method, p.url) for p in polls] == [("GET", f"{ORIGIN}/api/v1/tasks/{TASK}")] * 3
    assert all("X-DashScope-Async" not in p.headers for p in polls)
    assert [i.url for i in result.images] == [
        "https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/1.png?Expires=1757493723&OSSAccessKeyId=xxxxxx&Signature=xxxxxx",
        "https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/2.png?Expires=1757493723&OSSAccessKeyId=xxxxxx&Signature=xxxxxx",
    ]
    assert result.model == "wan2.2-t2i-flash"
    assert time.waits == [2.0, 3.0, 4.5]


async def test_a_failed_task_is_an_error_with_dashscope_s_message() -> None:
    wan = await make(tasks(["running", "failed"]))
    with pytest.raises(InvalidRequest) as caught:
        await wan.generate(ImageRequest(model="m", prompt="p"), spec("wan2.5-t2i-preview"))
    assert caught.value.code == "content_moderated"
    assert "Output data may contain inappropriate content. (DataInspectionFailed)" in caught.value.message

    def failing(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture("alibaba/task_created.json"))
        return MockResponse.json({"output": {"task_id": TASK, "task_status": "FAILED", "code": "InternalError",
                                             "message": "Internal server error"}})  # fmt: skip

    wan = await make(failing)
    with pytest.raises(UpstreamError, match=r"task 0385dc79-5ff8-4d82-bcb6-xxxxxx failed: Internal server error"):
        await wan.generate(ImageRequest(model="m", prompt="p"), spec("wan2.5-t2i-preview"))


async def test_a_task_still_running_at_the_deadline_is_a_504() -> None:
    time = FakeTime()
    wan = await make(tasks(["running"]), time)
    with pytest.raises(UpstreamTimeout, match=f"task {TASK} did not finish within 300 s"):
        await wan.generate(ImageRequest(model="m", prompt="p"), spec("wan2.2-t2i-plus"))
    assert POLICY.deadline_s - POLICY.max_interval_s < sum(time.waits) <= POLICY.deadline_s


async def test_a_client_that_leaves_stops_the_polling() -> None:
    time = FakeTime(block_at=4)
    wan = await make(tasks(["running"]), time)
    task = asyncio.create_task(wan.generate(ImageRequest(model="m", prompt="p"), spec("wan2.2-t2i-plus")))
    await time.blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert [r.method for r in sent(wan)] == ["POST", "GET", "GET", "GET"]


async def test_qwen_image_is_one_synchronous_call_an_image_at_its_nearest_size() -> None:
    qwen = await make(lambda r: MockResponse.json(fixture("alibaba/multimodal_generation.json")))
    request = ImageRequest(
        model="m", prompt="A cat", size="landscape_16_9", count=2, options={"watermark": True, "seed": 3}
    )
    result = await qwen.generate(request, spec("qwen-image"))

    first, second = sent(qwen)
    assert (first.method, first.url) == ("POST", f"{ORIGIN}/api/v1/services/aigc/multimodal-generation/generation")
    assert "X-DashScope-Async" not in first.headers
    assert orjson.loads(first.body) == {
        "model": "qwen-image",
        "input": {"messages": [{"role": "user", "content": [{"text": "A cat"}]}]},
        "parameters": {"watermark": True, "size": "1664*928", "seed": 3},
    }
    assert orjson.loads(second.body)["parameters"]["seed"] == 4
    url = "https://dashscope-result-sz.oss-cn-shenzhen.aliyuncs.com/xxx.png?Expires=xxx"
    assert result.images == (GeneratedImage(url=url), GeneratedImage(url=url))


async def test_qwen_image_edit_sends_its_image_before_the_instruction() -> None:
    qwen = await make(lambda r: MockResponse.json(fixture("alibaba/multimodal_generation.json")))
    request = ImageRequest(
        model="m",
        prompt="Make the sky purple",
        images=(Source(blob=Blob(b"\x89PNG\r\n\x1a\n", "image/png")),),
        options={"negative_prompt": "blur"},
    )
    await qwen.generate(request, spec("qwen-image-edit"))
    assert orjson.loads(sent(qwen)[0].body) == {
        "model": "qwen-image-edit",
        "input": {
            "messages": [
                {
                    "role": "user",
                    "content": [{"image": "data:image/png;base64,iVBORw0KGgo="}, {"text": "Make the sky purple"}],
                }
            ]
        },
        "parameters": {"watermark": False, "negative_prompt": "blur"},
    }


async def test_dashscope_errors_are_mapped() -> None:
    qwen = await make(lambda r: MockResponse.json(fixture("alibaba/error_invalid_api_key.json"), status=401))
    with pytest.raises(UpstreamError) as auth:
        await qwen.generate(ImageRequest(model="m", prompt="p"), spec("qwen-image"))
    assert auth.value.code == "upstream_auth_failed"
    assert "ALIBABA_API_KEY" in auth.value.message

    qwen = await make(lambda r: MockResponse.json(fixture("alibaba/error_inspection.json"), status=400))
    with pytest.raises(InvalidRequest, match=r"inappropriate content\. \(DataInspectionFailed\)"):
        await qwen.generate(ImageRequest(model="m", prompt="p"), spec("qwen-image"))


async def test_qwen_image_edit_s_own_image_field_is_its_input_image() -> None:
    qwen = await make(lambda r: MockResponse.json(fixture("alibaba/multimodal_generation.json")))
    await qwen.generate(ImageRequest(model="m", prompt="p", options={"image": "iVBORw0KGgo="}), spec("qwen-image-edit"))
    await qwen.generate(
        ImageRequest(model="m", prompt="p", options={"image": "https://example.com/dog.jpg"}), spec("qwen-image-edit")
    )
    first, second = (orjson.loads(r.body)["input"]["messages"][0]["content"] for r in sent(qwen))
    assert first == [{"image": "data:image/png;base64,iVBORw0KGgo="}, {"text": "p"}]
    assert second == [{"image": "https://example.com/dog.jpg"}, {"text": "p"}]
    assert "image" not in orjson.loads(sent(qwen)[0].body)["parameters"]


def test_the_native_api_is_found_from_the_compatible_base_url() -> None:
    assert native_origin(COMPATIBLE) == ORIGIN
    assert native_origin("https://dashscope.aliyuncs.com/compatible-mode/v1/") == "https://dashscope.aliyuncs.com"
    assert native_origin("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("model", "size", "sent"),
    [
        ("wan2.2-t2i-flash", "square", "512*512"),
        ("wan2.2-t2i-flash", "2048x1024", "1440*720"),
        ("wan2.2-t2i-flash", "2000x300", "1440*512"),
        ("wan2.5-t2i-preview", "landscape_16_9", "1024*576"),
        ("wan2.5-t2i-preview", "square", "768*768"),
        ("wan2.6-t2i", "landscape_4_3", "1488*1120"),
        ("qwen-image-plus", "portrait_4_3", "1140*1472"),
        ("qwen-image-2.0", "1536x1024", "1536*1024"),
        ("z-image-turbo", "auto", None),
    ],
)
def test_each_model_family_gets_a_size_it_makes(model: str, size: str, sent: str | None) -> None:
    assert size_param(ImageRequest(model="m", prompt="p", size=size), model) == sent


def test_what_a_model_cannot_take_is_refused_before_anything_is_sent() -> None:
    wan = DashScopeImages(provider_config("alibaba", COMPATIBLE), transport=MockTransport(tasks(["succeeded"])))
    image = (Source(url="https://example.com/a.png"),)
    with pytest.raises(InvalidRequest) as edit:
        wan.check_image(ImageRequest(model="m", prompt="p", images=image), spec("wan2.2-t2i-flash"))
    assert edit.value.param == "image_urls"
    with pytest.raises(InvalidRequest) as size:
        wan.check_image(ImageRequest(model="m", prompt="p", size="4K"), spec("qwen-image"))
    assert size.value.param == "size"
