"""``FalImages``: fal's queue API (``queue.py``) behind the ``ImageGenerator`` protocol, for the
catalog's models that fal hosts and no first party serves; ``request.py`` maps a request to an
app's input and its answer back."""

from __future__ import annotations

from typing import Unpack

from unigate.catalog.spec import ModelSpec
from unigate.core.media import ImageRequest, ImageResult
from unigate.providers.config import ProviderConfig
from unigate.providers.fal.queue import POLICY, FalQueue
from unigate.providers.fal.request import app_input, image_result
from unigate.providers.transport import Transport
from unigate.providers.upstream_adapter import UpstreamAdapter, Waits

__all__ = ["POLICY", "FalImages"]


class FalImages(UpstreamAdapter):
    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None, **waits: Unpack[Waits]) -> None:
        self.queue = FalQueue(config, transport=transport, **waits)
        super().__init__(self.queue.upstream)

    def check_image(self, request: ImageRequest, model: ModelSpec) -> None:
        app_input(request, model.upstream_model)  # a malformed size fails before any credit is reserved

    async def generate(self, request: ImageRequest, model: ModelSpec) -> ImageResult:
        app = model.upstream_model
        return image_result(await self.queue.run(app, app_input(request, app)), app)
