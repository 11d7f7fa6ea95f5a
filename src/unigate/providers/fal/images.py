"""``FalImages``: fal's queue API (``queue.py``) behind the ``ImageGenerator`` protocol, for the
catalog's models that fal hosts and no first party serves; ``request.py`` maps a request to an
app's input and its answer back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from unigate.catalog.spec import ModelSpec
from unigate.core.media import ImageRequest, ImageResult
from unigate.providers.config import ProviderConfig
from unigate.providers.fal.queue import POLICY, FalQueue
from unigate.providers.fal.request import app_input, image_result
from unigate.providers.polling import Clock, PollPolicy
from unigate.providers.transport import Transport

__all__ = ["POLICY", "FalImages"]


class FalImages:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock = time.monotonic,
        policy: PollPolicy = POLICY,
    ) -> None:
        self.name = config.name
        self.config = config
        self.queue = FalQueue(config, transport=transport, sleep=sleep, clock=clock, policy=policy)
        self.upstream = self.queue.upstream

    async def start(self) -> None:
        await self.queue.start()

    async def close(self) -> None:
        await self.queue.close()

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        app_input(request, model.upstream_model)  # a malformed size fails before any credit is reserved

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        app = model.upstream_model
        return image_result(await self.queue.run(app, app_input(request, app)), app)
