"""Shared by the speech, transcription and OCR adapter tests: each provider's configuration as the
environment gives it, model specs, and a ``MockTransport`` that answers from a queue of recorded
replies and keeps every request."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.providers.emulators import fixture, fixture_json, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.media import SpeechAudio
from unigate.providers.config import ProviderConfig
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

__all__ = [
    "BASE_URLS",
    "Replies",
    "collect",
    "config",
    "fixture",
    "fixture_json",
    "json_body",
    "query",
    "spec",
]

BASE_URLS = {
    "deepgram": "https://api.deepgram.com",
    "elevenlabs": "https://api.elevenlabs.io",
    "assemblyai": "https://api.assemblyai.com",
    "minimax": "https://api.minimax.io/v1",
    "mistral": "https://api.mistral.ai/v1",
    "zhipu": "https://open.bigmodel.cn/api/paas/v4",
    "alibaba": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "hume": "https://api.hume.ai",
    "inworld": "https://api.inworld.ai",
}
"""Each provider's registered default base URL: the tests send where production would."""


def config(name: str) -> ProviderConfig:
    return provider_config(name, BASE_URLS[name])


def spec(provider: str, upstream: str, model_type: str = "tts", model_id: str | None = None) -> ModelSpec:
    return ModelSpec(
        id=model_id or f"{provider}/{upstream}",
        provider=provider,
        upstream_model=upstream,
        price=Price(0, 0),
        type=model_type,
    )


class Replies(MockTransport):
    """A ``MockTransport`` answering each request with the next queued ``MockResponse``."""

    def __init__(self, replies: Iterable[MockResponse]) -> None:
        self.queue = deque(replies)
        super().__init__(self._next)

    def _next(self, request: Request) -> MockResponse:
        assert self.queue, f"no reply queued for {request.method} {request.url}"
        return self.queue.popleft()


def query(request: Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


def json_body(request: Request) -> Any:
    return orjson.loads(request.body)


async def collect(audio: SpeechAudio) -> list[bytes]:
    chunks: AsyncIterator[bytes] = audio.chunks
    return [chunk async for chunk in chunks]
