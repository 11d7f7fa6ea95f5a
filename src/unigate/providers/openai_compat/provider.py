"""``OpenAICompatProvider``: one upstream that speaks OpenAI Chat Completions (see the package).

Embeddings (``POST {base_url}/embeddings``, https://platform.openai.com/docs/api-reference/embeddings)
go through the same upstream: inputs, ``dimensions`` and ``user`` as sent, vectors asked as floats
(which every compatible server writes; base64 answers are read too), ``usage.prompt_tokens`` as
reported, else the input's UTF-8 bytes (a bound for every byte-level tokenizer).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core import field_policy
from unigate.core.chat import ChatRequest
from unigate.core.chat import Dialect as ClientDialect
from unigate.core.embeddings import EmbeddingRequest, EmbeddingResult
from unigate.core.results import ChatResult, StreamEvent, Usage
from unigate.errors import GatewayError, UnsupportedParameter
from unigate.providers.config import ProviderConfig
from unigate.providers.estimate import estimated_usage, generated_bytes, prompt_tokens_upper_bound
from unigate.providers.http import Upstream
from unigate.providers.openai_compat.kimi_search import (
    MAX_SEARCHES,
    SEARCH_TOKENS,
    complete_searching,
    stream_searching,
    summed,
)
from unigate.providers.openai_compat.request import Dialect, request_body
from unigate.providers.openai_compat.response import parse_completion, parse_embeddings, parse_error, parse_usage
from unigate.providers.openai_compat.stream import stream_events
from unigate.providers.openai_responses import ResponsesApi
from unigate.providers.transport import Transport, build_transport

__all__ = ["OpenAICompatProvider"]


class OpenAICompatProvider:
    """One OpenAI-compatible upstream (``POST {base_url}/chat/completions``); the models whose
    catalog entry says ``upstream_api = "responses"`` go to ``POST {base_url}/responses`` instead
    (``openai_responses``), on the same deployment."""

    def __init__(self, config: ProviderConfig, *, transport: Transport | None = None) -> None:
        self.name = config.name
        self.config = config
        self.dialect = Dialect.of(config.name)
        self.upstream = Upstream(config, parse_error=parse_error, transport=transport or build_transport())
        self.responses = ResponsesApi(self.upstream, url=f"{config.base_url}/responses", headers=self._headers)

    async def start(self) -> None:
        await self.upstream.start()

    async def close(self) -> None:
        await self.upstream.close()

    def _responses(self, request: ChatRequest, model: ModelSpec) -> bool:
        """Whether ``request`` goes to the Responses API: the catalog says so, or a Responses
        client sends OpenAI itself what only that API takes (Codex: ``client_metadata``, its
        tools, its encrypted reasoning), which then reaches OpenAI as sent. Search models are
        the exception: OpenAI serves them on Chat Completions only."""
        if model.upstream_api == "responses":
            return True
        ext = request.extensions
        if not self.dialect.speaks_chat or ext is None or ext.dialect != "openai_responses":
            return False
        return "web_search_options" not in model.params and field_policy.wants_own_api(ext)

    def speaks(self, request: ChatRequest, model: ModelSpec) -> ClientDialect | None:
        if self._responses(request, model):
            return "openai_responses"
        return "openai_chat" if self.dialect.speaks_chat else None

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        if self._responses(request, model):
            self.responses.check(request)
        # Otherwise the upstream is the judge of what an OpenAI-wire request may contain.
        if request.web_search is not None and self.dialect.web_search is None:
            raise UnsupportedParameter(
                f"The {self.name} provider has no web search: {model.id!r} cannot take the '$web_search' tool "
                "nor web_search_options.",
                param="web_search_options",
            )

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        prompt = prompt_tokens_upper_bound(request)
        if self._searches_itself(request):  # every turn resends the prompt, with the results so far
            return prompt * (MAX_SEARCHES + 1) + SEARCH_TOKENS * MAX_SEARCHES * (MAX_SEARCHES + 1) // 2
        return prompt

    def _searches_itself(self, request: ChatRequest) -> bool:
        """Whether the gateway runs Kimi's search round trip for ``request`` (``kimi_search.py``)."""
        return self.dialect.web_search == "kimi" and request.web_search is not None and request.n == 1

    def _url(self) -> str:
        return f"{self.config.base_url}/chat/completions"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        if self._responses(request, model):
            return await self.responses.complete(request, model)
        body = request_body(request, model, dialect=self.dialect, stream=False)
        if not self._searches_itself(request):
            answers = [await self._post(body)]
        else:
            answers = await complete_searching(self._post, body)
        result = parse_completion(answers[-1], stops=request.sampling.stop)
        result.model = result.model or model.upstream_model
        if len(answers) > 1:  # the searching turns' text, if they said anything, comes first
            said = "".join(parse_completion(a).choices[0].content or "" for a in answers[:-1])
            result.choices[0].content = said + (result.choices[0].content or "") if said else result.choices[0].content
        usages = [parse_usage(a.get("usage")) for a in answers]
        if usages[-1] is None:
            usages[-1] = estimated_usage(request, generated_bytes(result))
        result.usage = usages[0] if len(answers) == 1 and usages[0] else summed(u for u in usages if u)
        return result

    async def _post(self, body: dict[str, Any]) -> Any:
        return await self.upstream.post_json(self._url(), headers=self._headers(), body=body)

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        def events_of(body: dict[str, Any]) -> AsyncGenerator[StreamEvent, None]:
            chunks = self.upstream.chunks(self._url(), headers=self._headers(), body=body)
            citations = self.dialect.web_search == "perplexity"
            return stream_events(
                chunks, request, model, provider=self.name, error_event=self._error_event, citations=citations
            )

        if self._responses(request, model):
            events = self.responses.stream(request, model)
        else:
            body = request_body(request, model, dialect=self.dialect, stream=True)
            events = stream_searching(events_of, body) if self._searches_itself(request) else events_of(body)
        async with aclosing(events):
            async for event in events:
                yield event

    def _error_event(self, data: bytes) -> GatewayError:
        return self.upstream.error(502, data)

    def check_embedding(self, request: EmbeddingRequest, model: ModelSpec) -> None:
        return None  # the upstream judges dimensions and input lengths

    def estimate_embedding_tokens(self, request: EmbeddingRequest, model: ModelSpec) -> int:
        return sum(len(i.encode()) + 1 if isinstance(i, str) else len(i) for i in request.inputs)

    async def embed(self, request: EmbeddingRequest, model: ModelSpec) -> EmbeddingResult:
        body: dict[str, Any] = {
            "model": model.upstream_model,
            "input": [i if isinstance(i, str) else list(i) for i in request.inputs],
            "encoding_format": "float",
        }
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.user is not None:
            body["user"] = request.user
        url = f"{self.config.base_url}/embeddings"
        data = await self.upstream.post_json(url, headers=self._headers(), body=body)
        vectors, usage = parse_embeddings(data, count=len(request.inputs))
        reported = data.get("model") if isinstance(data, dict) else None
        return EmbeddingResult(
            model=str(reported or model.upstream_model),
            vectors=vectors,
            usage=usage or Usage(self.estimate_embedding_tokens(request, model), 0),
        )
