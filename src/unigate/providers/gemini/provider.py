"""``GeminiProvider``: the Gemini API behind the ``Provider`` protocol.

http(s) image URLs are fetched by the gateway (``fetch.py``: public addresses only, size, time and
type limits; a failure is a 400 naming the content part) and sent inline, since Gemini reads only
files uploaded to Google by URL. The thought signatures of an answer's function calls are kept
here (``replay.py``) until the client sends the tool results back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, ImagePart
from unigate.core.results import ChatResult, StreamEvent
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.config import ProviderConfig
from unigate.providers.estimate import estimated_usage, generated_bytes, prompt_tokens_upper_bound
from unigate.providers.fetch import Fetcher, FetchError
from unigate.providers.gemini.errors import parse_error
from unigate.providers.gemini.request import FILES_URI, request_body
from unigate.providers.gemini.response import parse_response
from unigate.providers.gemini.stream import StreamDecoder
from unigate.providers.http import Upstream
from unigate.providers.replay import ReplayCache
from unigate.providers.sse import marked
from unigate.providers.transport import Transport, build_transport

__all__ = ["GeminiProvider"]


def _remote_images(request: ChatRequest) -> list[tuple[str, str]]:
    """The http(s) image URLs the gateway must fetch for Gemini, with their params."""
    out = []
    for i, m in enumerate(request.messages):
        for j, p in enumerate(m.content):
            remote = isinstance(p, ImagePart) and p.url.lower().startswith(("http://", "https://"))
            if remote and isinstance(p, ImagePart) and not p.url.startswith(FILES_URI):
                out.append((p.url, f"messages[{i}].content[{j}]"))
    return out


def _fetch_failed(exc: FetchError, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"The image URL at {param} cannot be used: {exc.message}.", param=param, code="invalid_image_url"
    )


class GeminiProvider:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        replay: ReplayCache[str] | None = None,
        fetcher: Fetcher | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.upstream = Upstream(config, parse_error=parse_error, transport=transport or build_transport())
        self.replay: ReplayCache[str] = replay if replay is not None else ReplayCache()
        self.fetcher = fetcher or Fetcher()

    async def start(self) -> None:
        await self.upstream.start()
        await self.fetcher.start()

    async def close(self) -> None:
        await self.fetcher.close()
        await self.upstream.close()

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        request_body(request, model, replay=self.replay)
        for url, param in _remote_images(request):
            try:
                self.fetcher.vet(url)  # a refused address fails before any credit is reserved
            except FetchError as exc:
                raise _fetch_failed(exc, param) from exc

    async def _fetch_images(self, request: ChatRequest) -> ChatRequest:
        """``request`` with its remote image URLs replaced by the fetched bytes, as data: URIs."""
        fetched: dict[str, str] = {}
        for url, param in _remote_images(request):
            if url not in fetched:
                try:
                    fetched[url] = (await self.fetcher.fetch(url)).data_uri()
                except FetchError as exc:
                    raise _fetch_failed(exc, param) from exc
        if not fetched:
            return request
        messages = tuple(
            replace(
                m,
                content=tuple(
                    ImagePart(fetched[p.url], p.detail) if isinstance(p, ImagePart) and p.url in fetched else p
                    for p in m.content
                ),
            )
            for m in request.messages
        )
        return replace(request, messages=messages)

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return prompt_tokens_upper_bound(request)

    def _url(self, model: ModelSpec, method: str) -> str:
        name = model.upstream_model.removeprefix("models/")
        return f"{self.config.base_url}/v1beta/models/{name}:{method}"

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.api_key or ""}

    def _remember(self, signatures: dict[str, str]) -> None:
        for call_id, signature in signatures.items():
            self.replay.put(call_id, signature)

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        body = request_body(await self._fetch_images(request), model, replay=self.replay)
        data = await self.upstream.post_json(self._url(model, "generateContent"), headers=self._headers(), body=body)
        result, signatures = parse_response(data, n=request.n)
        result.model = result.model or model.upstream_model
        if not isinstance(data.get("usageMetadata"), dict):
            result.usage = estimated_usage(request, generated_bytes(result))
        self._remember(signatures)
        return result

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        body = request_body(await self._fetch_images(request), model, replay=self.replay)
        url = self._url(model, "streamGenerateContent") + "?alt=sse"
        decoder = StreamDecoder(n=request.n, fallback_model=model.upstream_model)
        async with aclosing(self.upstream.sse(url, headers=self._headers(), body=body)) as events:
            async for event in events:
                try:
                    data = orjson.loads(event.data)
                except orjson.JSONDecodeError as exc:
                    raise UpstreamError("The gemini provider sent a malformed stream chunk.") from exc
                if not isinstance(data, dict):
                    continue
                if "error" in data:
                    raise self.upstream.error(502, event.data.encode())
                for out in marked(decoder.feed(data), more=event.more):
                    yield out
        if not decoder.complete():
            raise UpstreamError("The gemini provider's stream ended before every candidate finished.")
        self._remember(decoder.signatures)
        yield decoder.usage if decoder.usage is not None else estimated_usage(request, decoder.generated)
