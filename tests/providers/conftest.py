"""Fixtures of the provider tests: an emulated upstream per test, and the embedded model, loaded
once per session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.providers.emulators import Emulator, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.chat import ChatRequest, Message, Sampling, TextPart
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.local import LocalProvider, default_model_path

Ask = Callable[..., ChatRequest]
MakeAnthropic = Callable[[], Awaitable[AnthropicProvider]]


@pytest.fixture
async def upstream() -> AsyncIterator[Emulator]:
    """An emulated upstream on this test's event loop, replaying the replies a test queues."""
    emulator = Emulator()
    await emulator.start()
    yield emulator
    await emulator.close()


@pytest.fixture
async def make_anthropic(upstream: Emulator) -> AsyncIterator[MakeAnthropic]:
    """Started Anthropic adapters on ``upstream``, closed when the test ends."""
    made: list[AnthropicProvider] = []

    async def factory() -> AnthropicProvider:
        provider = AnthropicProvider(provider_config("anthropic", upstream.url))
        await provider.start()
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.close()


def run_blocking(coroutine: Any) -> None:
    """Run a coroutine to completion on a private loop in another thread, away from pytest-asyncio's."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def open_provider(**options: Any) -> Iterator[LocalProvider]:
    provider = LocalProvider(model_path=default_model_path(), **options)
    run_blocking(provider.start())
    yield provider
    run_blocking(provider.close())


@pytest.fixture(scope="session")
def local() -> Iterator[LocalProvider]:
    yield from open_provider(n_ctx=1024)


@pytest.fixture(scope="session")
def model_path() -> Path:
    return default_model_path()


@pytest.fixture(scope="session")
def spec() -> ModelSpec:
    return ModelSpec(id="smollm2-135m", provider="local", upstream_model="smollm2", price=Price(0, 0))


@pytest.fixture(scope="session")
def ask() -> Ask:
    """Build a one-user-message request; keyword arguments go to ``ChatRequest``, except the
    sampling ones (``temperature``, ``seed``, ``stop``, ``logit_bias``...) which go to ``Sampling``."""
    sampling_fields = set(Sampling.__dataclass_fields__)

    def build(text: str, **options: Any) -> ChatRequest:
        sampling = {k: options.pop(k) for k in list(options) if k in sampling_fields}
        options.setdefault("max_tokens", 24)
        return ChatRequest(
            model="smollm2-135m",
            messages=(Message("user", (TextPart(text),)),),
            sampling=Sampling(**sampling),
            **options,
        )

    return build


@pytest.fixture(scope="module")
def busy() -> Iterator[LocalProvider]:
    """One sequence, room for one waiting job, and a short wait limit: easy to overload."""
    yield from open_provider(n_ctx=512, parallel=1, max_queue=1, max_wait_s=0.6)


@pytest.fixture(scope="module")
def pair() -> Iterator[LocalProvider]:
    """Two instances serving one queue, one request at a time each."""
    yield from open_provider(n_ctx=512, instances=2, parallel=1)
