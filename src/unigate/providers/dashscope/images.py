"""``DashScopeImages``: Alibaba Cloud Model Studio's native DashScope API behind the
``ImageGenerator`` protocol (Wan, Qwen-Image, Z-Image; ``request.py`` for the bodies).

The ``alibaba`` provider is configured with the OpenAI-compatible base URL of its chat models
(``https://dashscope-intl.aliyuncs.com/compatible-mode/v1``); the native API lives at the same
origin (``native_origin``), with the same key (``Authorization: Bearer``).

A task is created (``output.task_id``), then ``GET /api/v1/tasks/{task_id}`` is asked
(``polling.py``) until ``task_status`` is ``SUCCEEDED`` (``output.results[].url``; a result that
failed alone carries a ``code`` and ``message`` instead) or ``FAILED`` / ``CANCELED`` /
``UNKNOWN`` (expired), whose ``code`` and ``message`` become the error (``errors.py``). Image
URLs last 24 hours: the gateway stores the images at once.
"""

from __future__ import annotations

from typing import Any, Unpack
from urllib.parse import quote, urlsplit

from unigate.catalog.spec import ModelSpec
from unigate.core.media import GeneratedImage, ImageRequest, ImageResult
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.dashscope.errors import parse_error, task_failure
from unigate.providers.dashscope.request import is_task, sync_body, task_body
from unigate.providers.http import Upstream
from unigate.providers.imaging import fan_out, nth_seed
from unigate.providers.polling import PollPolicy
from unigate.providers.transport import Transport, build_transport
from unigate.providers.upstream_adapter import PollingAdapter, Waits

__all__ = ["POLICY", "DashScopeImages", "native_origin"]

POLICY = PollPolicy(first_s=2.0, factor=1.5, max_interval_s=10.0, deadline_s=300.0)
"""DashScope's reference puts a text-to-image task at one to three minutes."""

SYNC_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
TASK_PATH = "/api/v1/services/aigc/text2image/image-synthesis"
RUNNING = frozenset({"PENDING", "RUNNING", "SUSPENDED"})


def native_origin(base_url: str) -> str:
    """The native API's root for a configured base URL: the compatible-mode path taken off, or
    the bare origin."""
    base = base_url.rstrip("/")
    for suffix in ("/compatible-mode/v1", "/compatible-mode"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def _urls(items: Any) -> list[GeneratedImage]:
    items = items if isinstance(items, list) else []
    return [GeneratedImage(url=i["url"]) for i in items if isinstance(i, dict) and isinstance(i.get("url"), str)]


def _seeded(body: dict[str, Any], index: int) -> dict[str, Any]:
    parameters = body["parameters"]
    if "seed" not in parameters:
        return body
    return {**body, "parameters": {**parameters, "seed": nth_seed(parameters["seed"], index)}}


class DashScopeImages(PollingAdapter):
    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None, **waits: Unpack[Waits]) -> None:
        upstream = Upstream(config, parse_error=parse_error, transport=transport or build_transport())
        super().__init__(upstream, POLICY, **waits)
        self.origin = native_origin(config.base_url or "")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        if request.mask is not None:
            raise InvalidRequest(f"{model.id} does not take a mask.", param="mask")
        upstream = model.upstream_model
        if is_task(upstream) and request.images:
            raise InvalidRequest(f"{model.id} makes images from text only.", param="image_urls")
        (task_body if is_task(upstream) else sync_body)(request, upstream)

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        upstream = model.upstream_model
        if is_task(upstream):
            images = await self._task(request, upstream)
        else:
            body = sync_body(request, upstream)
            images = await fan_out(request.count, lambda i: self._sync(_seeded(body, i)))
        return ImageResult(tuple(images), model=upstream)

    async def _sync(self, body: dict[str, Any]) -> list[GeneratedImage]:
        data = await self.upstream.post_json(self.origin + SYNC_PATH, headers=self._headers(), body=body)
        output = data.get("output") if isinstance(data, dict) else None
        choices = output.get("choices") if isinstance(output, dict) else None
        images: list[GeneratedImage] = []
        for choice in choices if isinstance(choices, list) else ():
            message = choice.get("message") if isinstance(choice, dict) else None
            content = message.get("content") if isinstance(message, dict) else None
            for part in content if isinstance(content, list) else ():
                if isinstance(part, dict) and isinstance(part.get("image"), str) and part["image"]:
                    images.append(GeneratedImage(url=part["image"]))
        if not images:
            if isinstance(data, dict) and data.get("code"):
                raise task_failure(data.get("code"), data.get("message"), task=str(data.get("request_id") or "call"))
            raise UpstreamError("The alibaba provider's answer holds no image.")
        return images

    async def _task(self, request: ImageRequest, model: str) -> list[GeneratedImage]:
        headers = {**self._headers(), "X-DashScope-Async": "enable"}
        created = await self.upstream.post_json(
            self.origin + TASK_PATH, headers=headers, body=task_body(request, model)
        )
        output = created.get("output") if isinstance(created, dict) else None
        task = output.get("task_id") if isinstance(output, dict) else None
        if not isinstance(task, str) or not task:
            raise UpstreamError(f"The alibaba provider accepted a {model} task without a task_id.")
        url = f"{self.origin}/api/v1/tasks/{quote(task)}"

        async def check() -> list[GeneratedImage] | None:
            return await self._status(url, task)

        return await self.wait_for(check, f"The alibaba provider's task {task}")

    async def _status(self, url: str, task: str) -> list[GeneratedImage] | None:
        data = await self.upstream.request_json("GET", url, headers=self._headers())
        output = data.get("output") if isinstance(data, dict) else None
        output = output if isinstance(output, dict) else {}
        status = output.get("task_status")
        if status in RUNNING:
            return None
        if status == "SUCCEEDED":
            images = _urls(output.get("results"))
            if images:
                return images
            failed = next((r for r in output.get("results") or () if isinstance(r, dict) and r.get("code")), {})
            raise task_failure(failed.get("code"), failed.get("message") or "no image in the results", task=task)
        if status in ("FAILED", "CANCELED", "UNKNOWN"):
            message = output.get("message") or ("the task expired or is unknown" if status == "UNKNOWN" else None)
            raise task_failure(output.get("code"), message or str(status).lower(), task=task)
        return None
