"""An upstream's own refusal of a prompt too long for its model's context reaches the client as
a 400 with OpenAI's code ``context_length_exceeded`` and the upstream's words, which name the
sizes; recorded answers of OpenAI, vLLM, DeepSeek, Anthropic and Gemini, replayed by a local
emulator. Other 400s keep ``upstream_invalid_request``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.providers.emulators import Emulator, chat, fixture_json, json_reply, model_spec, provider_config
from unigate.catalog.spec import ModelSpec
from unigate.core.provider import Provider
from unigate.errors import ContextLengthExceeded, InvalidRequest
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider

Make = Callable[[str], Awaitable[Provider]]

RECORDED = [
    ("openai", "openai/error_context_length.json", "128000 tokens", "202868 tokens", "messages"),
    ("vllm", "openai/error_context_vllm.json", "6048 tokens", "6616 tokens", "messages"),
    ("deepseek", "openai/error_context_deepseek.json", "131072 tokens", "131134 tokens", "messages"),
    ("anthropic", "anthropic/error_prompt_too_long.json", "200000 maximum", "200251 tokens", "messages"),
    ("anthropic", "anthropic/error_context_limit.json", "> 200000", "143653 + 64000", "messages"),
    ("gemini", "gemini/error_context.json", "(131072)", "(132478)", "messages"),
]


@pytest.fixture
async def make(upstream: Emulator) -> AsyncIterator[Make]:
    made: list[Provider] = []

    async def factory(name: str) -> Provider:
        provider: Provider
        if name == "anthropic":
            provider = AnthropicProvider(provider_config(name, upstream.url))
        elif name == "gemini":
            provider = GeminiProvider(provider_config(name, upstream.url))
        else:
            provider = OpenAICompatProvider(provider_config(name, upstream.url + "/v1"))
        await provider.start()
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.close()


async def drain(provider: Provider, spec: ModelSpec) -> None:
    async for _ in provider.stream(chat("hello"), spec):
        pass


@pytest.mark.parametrize(("name", "recorded", "limit", "size", "param"), RECORDED)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_context_refusal_is_context_length_exceeded_with_the_upstreams_sizes(
    upstream: Emulator, make: Make, name: str, recorded: str, limit: str, size: str, param: str, stream: bool
) -> None:
    upstream.queue(json_reply(fixture_json(recorded), status=400))
    provider = await make(name)
    spec = model_spec(name, "some-model", context_length=1000)
    with pytest.raises(ContextLengthExceeded) as caught:
        await (drain(provider, spec) if stream else provider.complete(chat("hello"), spec))
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "context_length_exceeded", param)
    assert error.body()["error"]["code"] == "context_length_exceeded"
    assert limit in error.message
    assert size in error.message
    assert error.message.startswith(f"The {name} provider rejected the request: ")


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("openai", fixture_json("openai/error_bad_request.json")),
        ("anthropic", fixture_json("anthropic/error_invalid_request.json")),
        ("gemini", fixture_json("gemini/error_invalid_argument.json")),
        # The phrase inside another message is no context refusal: Anthropic's are anchored.
        (
            "anthropic",
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "x: prompt is too long: 1 tokens > 0 maximum"},
            },
        ),
    ],
)
async def test_other_refusals_stay_upstream_invalid_request(
    upstream: Emulator, make: Make, name: str, body: Any
) -> None:
    upstream.queue(json_reply(body, status=400))
    provider = await make(name)
    with pytest.raises(InvalidRequest) as caught:
        await provider.complete(chat("hello"), model_spec(name, "some-model"))
    assert not isinstance(caught.value, ContextLengthExceeded)
    assert caught.value.code == "upstream_invalid_request"
