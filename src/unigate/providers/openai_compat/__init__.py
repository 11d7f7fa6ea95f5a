"""Upstreams that speak OpenAI Chat Completions: OpenAI itself, DeepSeek, xAI, Mistral, Qwen,
Together, Groq, OpenRouter, ... and self-hosted vLLM, SGLang, llama.cpp and Ollama.

https://platform.openai.com/docs/api-reference/chat

* ``request.py``: the request body, with only the fields the client set (``Dialect``: where
  OpenAI's own API and its imitators differ in what they accept);
* ``response.py``: what the upstream answers (completions, usage, errors, embeddings), read
  defensively;
* ``stream.py``: a streamed answer, read into canonical events as it arrives;
* ``relay.py``: the events of a stream that go to an OpenAI chat client as the upstream wrote them;
* ``provider.py``: ``OpenAICompatProvider``, which sends the requests through ``Upstream``.
"""

from unigate.providers.openai_compat.provider import OpenAICompatProvider
from unigate.providers.openai_compat.relay import ChunkRelay, RelayedChunks
from unigate.providers.openai_compat.request import Dialect, request_body
from unigate.providers.openai_compat.response import (
    FINISH_REASONS,
    parse_completion,
    parse_embeddings,
    parse_error,
    parse_usage,
)
from unigate.providers.openai_compat.stream import ChunkDecoder, stream_events

__all__ = [
    "FINISH_REASONS",
    "ChunkDecoder",
    "ChunkRelay",
    "Dialect",
    "OpenAICompatProvider",
    "RelayedChunks",
    "parse_completion",
    "parse_embeddings",
    "parse_error",
    "parse_usage",
    "request_body",
    "stream_events",
]
