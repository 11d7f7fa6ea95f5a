"""The official ``openai`` SDK's legacy ``completions`` against ``unigate`` serving the embedded
SmolLM2 model: the prompt is continued raw (no chat template), with streams, logprobs and echo."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.settings import LocalModelSettings

pytestmark = pytest.mark.model

MODEL = LOCAL_CHAT_MODEL_ID
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = fake_settings(tmp_path_factory.mktemp("local"), fake_models=False, local=LocalModelSettings(n_ctx=2048))
    running = Server(settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(local_server: Server) -> Iterator[openai.OpenAI]:
    key, _ = local_server.new_key(credits=2_000_000_000)
    with openai.OpenAI(base_url=f"{local_server.url}/v1", api_key=key, max_retries=0, timeout=120) as client:
        yield client


def test_the_prompt_is_continued_without_the_chat_template(client: openai.OpenAI) -> None:
    raw = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=8, temperature=0)
    assert raw.object == "text_completion"
    assert raw.choices[0].text
    assert raw.usage is not None
    # Five words (about six tokens); the chat template alone would add a system prompt and markup.
    assert raw.usage.prompt_tokens <= 8
    chat = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=1)
    assert chat.usage is not None
    assert chat.usage.prompt_tokens > raw.usage.prompt_tokens + 10
    assert raw.model_dump()["meta"]["usage"]["credits_used"] > 0


def test_stream_matches_create(client: openai.OpenAI) -> None:
    whole = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=12, temperature=0)
    chunks = list(
        client.completions.create(
            model=MODEL,
            prompt=PROMPT,
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert chunks[-1].usage is not None
    assert whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_logprobs(client: openai.OpenAI) -> None:
    r = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=6, temperature=0, logprobs=2)
    lp = r.choices[0].logprobs
    assert lp is not None
    assert lp.tokens is not None
    assert lp.token_logprobs is not None
    assert lp.top_logprobs is not None
    assert lp.text_offset is not None
    assert "".join(lp.tokens) == r.choices[0].text
    assert all(v <= 0 for v in lp.token_logprobs)
    assert all(len(top) == 2 for top in lp.top_logprobs)
    # Greedy: the chosen token is the most likely one.
    assert all(
        abs(max(top.values()) - chosen) < 1e-4 for top, chosen in zip(lp.top_logprobs, lp.token_logprobs, strict=True)
    )
    assert lp.text_offset[0] == 0


def test_several_prompts_n_and_echo(client: openai.OpenAI) -> None:
    r = client.completions.create(
        model=MODEL, prompt=["Once upon a time", "1, 2, 3,"], n=2, max_tokens=4, echo=True, seed=3
    )
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    assert all(c.text.startswith("Once upon a time") for c in r.choices[:2])
    assert all(c.text.startswith("1, 2, 3,") for c in r.choices[2:])
